"""The generated Riccati interior-point QP solver against CasADi's qpOASES.

Random structured QPs (stage-wise, dynamics, hard input boxes, soft state boxes,
soft general and terminal rows) are solved by the compiled C solver and by qpOASES on
the same problem written out in full (slacks as variables). The problems are strictly
convex (positive-definite stage Hessians, l2 > 0), so the solution is unique and both
must agree to 1e-6 relative.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import casadi as ca
import numpy as np
import pytest

from mpcgen import __version__
from mpcgen.codegen.lower import SCALARS
from mpcgen.codegen.qp_layout import QpLayout
from mpcgen.codegen.qp_program import QpProgram
from mpcgen.codegen.render import render_qp
from mpcgen.compiled.qp_binding import QpSolver


def random_qp(solver: QpSolver, layout: QpLayout, rng: np.random.Generator) -> None:
    """Fill ``solver.data`` with a random strictly convex QP whose bounds are active."""
    L, d = layout, solver.data
    nx, nu, N = L.nx, L.nu, L.N
    d["x0"][:] = rng.uniform(-2, 2, nx)
    for k in range(N + 1):
        G = rng.standard_normal((nx + nu, nx + nu))
        H = G @ G.T / (nx + nu) + 0.1 * np.eye(nx + nu)
        d["Q"][k] = H[:nx, :nx].ravel()
        d["q"][k] = rng.standard_normal(nx)
        if k < N:
            d["S"][k] = H[nx:, :nx].ravel()
            d["R"][k] = H[nx:, nx:].ravel()
            d["r"][k] = 3 * rng.standard_normal(nu)
            A = np.eye(nx) + 0.3 * rng.standard_normal((nx, nx))
            B = rng.standard_normal((nx, nu))
            # a structurally sparse layout: zeros outside the pattern (the solver skips them)
            for M, pattern in ((A, L.a_pattern), (B, L.b_pattern)):
                if pattern is not None:
                    mask = np.zeros(M.shape, bool)
                    mask[tuple(np.array(pattern).T)] = True
                    M[~mask] = 0.0
            d["A"][k] = A.ravel()
            d["B"][k] = B.ravel()
            d["c"][k] = 0.1 * rng.standard_normal(nx)
    # input boxes tight enough to be active: |u| <= 0.3..1
    for j, (i, sign) in enumerate(L.u_rows):
        d["bu"][:, j] = -rng.uniform(0.3, 1.0, N)  # sign*u >= -bound  <=>  |u| <= bound
    for j, (i, sign) in enumerate(L.x_rows):
        d["bx"][:, j] = -rng.uniform(0.2, 1.0, N + 1)
    if L.ng:
        d["Cx"][:] = rng.standard_normal(d["Cx"].shape)
        d["Cu"][:] = rng.standard_normal(d["Cu"].shape)
        d["d"][:] = rng.uniform(0.0, 1.0, d["d"].shape)
    if L.ngn:
        d["CN"][:] = rng.standard_normal(d["CN"].shape)
        d["dN"][:] = rng.uniform(0.0, 0.5, d["dN"].shape)
    d["l1"][0] = 10.0
    d["l2"][0] = 100.0


def qpoases_reference(solver: QpSolver, layout: QpLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, U, objective) from qpOASES on the same QP written with explicit slacks."""
    L, d = layout, solver.data
    nx, nu, N = L.nx, L.nu, L.N
    X = [ca.DM(d["x0"])] + [ca.SX.sym(f"x{k}", nx) for k in range(1, N + 1)]
    U = [ca.SX.sym(f"u{k}", nu) for k in range(N)]
    slacks: list[ca.SX] = []
    f, g, lbg, ubg = 0, [], [], []

    def soft(expr: ca.SX, hard=()) -> None:  # expr + s >= 0, s >= 0 (rows in ``hard``: expr >= 0)
        nonlocal f
        keep = [i for i in range(expr.numel()) if i not in hard]
        if hard:
            g.append(ca.vertcat(*[expr[i] for i in hard]))
            lbg.extend([0.0] * len(hard))
            ubg.extend([np.inf] * len(hard))
        if not keep:
            return
        expr = ca.vertcat(*[expr[i] for i in keep])
        s = ca.SX.sym(f"s{len(slacks)}", expr.numel())
        slacks.append(s)
        g.append(expr + s)
        lbg.extend([0.0] * expr.numel())
        ubg.extend([np.inf] * expr.numel())
        f += d["l1"][0] * ca.sum1(s) + 0.5 * d["l2"][0] * ca.sumsqr(s)

    for k in range(N + 1):
        x = X[k]
        Q = d["Q"][k].reshape(nx, nx)
        f += 0.5 * ca.bilin(Q, x, x) + ca.dot(d["q"][k], x)
        if k < N:
            u = U[k]
            S, R = d["S"][k].reshape(nu, nx), d["R"][k].reshape(nu, nu)
            f += ca.dot(u, ca.mtimes(S, x)) + 0.5 * ca.bilin(R, u, u) + ca.dot(d["r"][k], u)
            A, B = d["A"][k].reshape(nx, nx), d["B"][k].reshape(nx, nu)
            g.append(X[k + 1] - (ca.mtimes(A, x) + ca.mtimes(B, u) + d["c"][k]))
            lbg.extend([0.0] * nx)
            ubg.extend([0.0] * nx)
            for j, (i, sign) in enumerate(L.u_rows):
                g.append(sign * u[i] - d["bu"][k, j])
                lbg.append(0.0)
                ubg.append(np.inf)
            if L.ng:
                Cx, Cu = d["Cx"][k].reshape(L.ng, nx), d["Cu"][k].reshape(L.ng, nu)
                soft(d["d"][k][:L.ng] - ca.mtimes(Cx, x) - ca.mtimes(Cu, u), L.hard_g)
        if k >= 1 and L.x_rows:
            soft(ca.vertcat(*[sign * x[i] - d["bx"][k, j] for j, (i, sign) in enumerate(L.x_rows)]),
                 [j for j, (i, _) in enumerate(L.x_rows) if i in L.hard_x])
    if L.ngn:
        soft(d["dN"][:L.ngn] - ca.mtimes(d["CN"][: L.ngn * nx].reshape(L.ngn, nx), X[N]), L.hard_gn)
    w = ca.vertcat(*X[1:], *U, *slacks)
    lbw = [-np.inf] * (N * nx + N * nu) + [0.0] * sum(s.numel() for s in slacks)
    qp = ca.qpsol("ref", "qpoases", {"x": w, "f": f, "g": ca.vertcat(*g)},
                  {"printLevel": "none", "error_on_fail": True})
    sol = qp(lbx=lbw, ubx=np.inf, lbg=lbg, ubg=ubg)
    wv = np.array(sol["x"]).ravel()
    Xr = np.vstack([d["x0"], wv[: N * nx].reshape(N, nx)])
    Ur = wv[N * nx: N * nx + N * nu].reshape(N, nu)
    return Xr, Ur, float(sol["f"])


LAYOUTS = {
    "inputs only": QpLayout(4, 1, 20, ((0, 1), (0, -1)), ()),
    "inputs and states": QpLayout(4, 2, 10, ((0, 1), (0, -1), (1, 1), (1, -1)), ((0, 1), (2, -1), (3, 1), (3, -1))),
    "general rows": QpLayout(3, 2, 8, ((1, 1), (1, -1)), ((1, -1),), ng=2, ngn=1),
    "one stage": QpLayout(2, 1, 1, ((0, 1), (0, -1)), ((0, 1), (1, -1)), ng=1, ngn=2),
    "wide": QpLayout(6, 3, 15, ((0, 1), (1, -1), (2, 1), (2, -1)), ((0, 1), (5, -1)), ng=1),
    # structurally sparse A and B (a double integrator chain): the solver unrolls over the pattern
    "sparse dynamics": QpLayout(4, 2, 12, ((0, 1), (0, -1), (1, 1), (1, -1)), ((1, 1), (3, -1)), ng=1,
                                a_pattern=((0, 0), (0, 1), (1, 1), (2, 2), (2, 3), (3, 3), (1, 2)),
                                b_pattern=((1, 0), (3, 1), (2, 1))),
}

def tight_solver(layout: QpLayout, max_iter: int, prefix: str = "qptest") -> QpSolver:
    """A solver of ``layout`` with tolerances far below the agreement the tests ask for."""
    solver = QpSolver(layout, prefix=prefix)
    solver.settings.tol_stat = solver.settings.tol_eq = solver.settings.tol_ineq = 1e-9
    solver.settings.tol_comp = 1e-12
    solver.settings.max_iter = max_iter
    return solver


#: layouts with hard rows among the state boxes, general and terminal rows
HARD_LAYOUTS = {
    "some hard": QpLayout(4, 2, 10, ((0, 1), (0, -1), (1, 1), (1, -1)), ((0, 1), (2, -1), (3, 1), (3, -1)),
                          ng=2, ngn=1, hard_x=(3,), hard_g=(1,), hard_gn=(0,)),
    "all hard": QpLayout(3, 2, 8, ((1, 1), (1, -1)), ((0, 1), (1, -1)), ng=1, ngn=1, hard_x=(0, 1),
                         hard_g=(0,), hard_gn=(0,)),
}


def feasible_hard_qp(solver: QpSolver, layout: QpLayout, rng: np.random.Generator):
    """A random QP (``random_qp``) with hard rows loose enough for qpOASES to meet them:
    (X, U) of its solution."""
    L, d = layout, solver.data
    while True:
        random_qp(solver, layout, rng)
        d["x0"][:] *= 0.25
        for j, (i, _) in enumerate(L.x_rows):
            if i in L.hard_x:
                d["bx"][:, j] = -rng.uniform(0.3, 1.5, L.N + 1)
        for j in L.hard_g:
            d["d"][:, j] = rng.uniform(0.5, 2.0, L.N)
        for j in L.hard_gn:
            d["dN"][j] = rng.uniform(0.5, 2.0)
        try:
            X, U, _ = qpoases_reference(solver, layout)
        except RuntimeError:  # infeasible: draw again
            continue
        return X, U


def hard_row_values(solver: QpSolver, layout: QpLayout) -> np.ndarray:
    """Values of the hard rows at the solver's solution (>= 0 where they hold)."""
    L, d, x, u = layout, solver.data, solver.solution["x"], solver.solution["u"]
    values = [sign * x[1:, i] - d["bx"][1:, j] for j, (i, sign) in enumerate(L.x_rows) if i in L.hard_x]
    for j in L.hard_g:
        Cx, Cu = d["Cx"][:, j * L.nx:(j + 1) * L.nx], d["Cu"][:, j * L.nu:(j + 1) * L.nu]
        values.append(d["d"][:, j] - (Cx * x[:-1]).sum(1) - (Cu * u).sum(1))
    for j in L.hard_gn:
        values.append(np.atleast_1d(d["dN"][j] - d["CN"][j * L.nx:(j + 1) * L.nx] @ x[-1]))
    return np.concatenate(values)


@pytest.mark.parametrize("name", sorted(HARD_LAYOUTS))
def test_hard_rows_match_qpoases(name: str) -> None:
    """Hard rows hold at the solution (no relaxation) and it is qpOASES's, to 1e-6."""
    layout = HARD_LAYOUTS[name]
    solver = tight_solver(layout, 80, prefix="qphard")
    rng = np.random.default_rng(sum(map(ord, name)))
    active = 0
    for trial in range(5):
        X, U = feasible_hard_qp(solver, layout, rng)
        result = solver.solve()
        assert result.status == "ok", (trial, result)
        scale = max(1.0, float(np.abs(U).max()), float(np.abs(X).max()))
        assert np.abs(solver.solution["u"] - U).max() <= 1e-6 * scale, trial
        assert np.abs(solver.solution["x"] - X).max() <= 1e-6 * scale, trial
        values = hard_row_values(solver, layout)
        assert values.min() >= -1e-8, trial
        active += int((values < 1e-6).sum())
    assert active > 0  # some hard rows bind: the test means something


def test_infeasible_hard_rows_are_reported() -> None:
    """A hard state bound no input can reach: status infeasible, a finite best iterate; the
    same bound soft is met as far as the penalty pays for."""
    hard = HARD_LAYOUTS["some hard"]
    soft = QpLayout(hard.nx, hard.nu, hard.N, hard.u_rows, hard.x_rows, hard.ng, hard.ngn)
    for layout, expected in ((hard, "infeasible"), (soft, "ok")):
        solver = QpSolver(layout, prefix="qpinf" if layout is hard else "qpsoft")
        solver.settings.max_iter = 60
        random_qp(solver, layout, np.random.default_rng(11))
        j = layout.x_rows.index((3, 1))
        solver.data["bx"][:, j] = 1e3  # x_3 >= 1000 at every stage: out of reach
        result = solver.solve()
        assert result.status == expected, (layout.describe(), result)
        assert np.isfinite(solver.solution["u"]).all()


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_matches_qpoases(name: str) -> None:
    layout = LAYOUTS[name]
    solver = tight_solver(layout, 60)
    rng = np.random.default_rng(sum(map(ord, name)))
    active_rows = 0
    for trial in range(5):
        random_qp(solver, layout, rng)
        result = solver.solve()
        assert result.status == "ok", (trial, result)
        X, U, _ = qpoases_reference(solver, layout)
        x, u = solver.solution["x"], solver.solution["u"]
        scale = max(1.0, float(np.abs(U).max()), float(np.abs(X).max()))
        assert np.abs(u - U).max() <= 1e-6 * scale, (trial, np.abs(u - U).max())
        assert np.abs(x - X).max() <= 1e-6 * scale, (trial, np.abs(x - X).max())
        # input bounds hold exactly enough, and some are active (the test means something)
        for j, (i, sign) in enumerate(layout.u_rows):
            value = sign * u[:, i] - solver.data["bu"][:, j]
            assert value.min() >= -1e-8
            active_rows += int((value < 1e-6).sum())
    assert active_rows > 0


def test_warm_start_takes_fewer_iterations() -> None:
    layout = LAYOUTS["inputs and states"]
    solver = QpSolver(layout)
    random_qp(solver, layout, np.random.default_rng(3))
    cold = solver.solve()
    solver.settings.warm_start = 1
    solver.data["q"][:] *= 1.01  # a nearby QP, as in consecutive MPC steps
    warm = solver.solve()
    assert cold.status == warm.status == "ok"
    assert warm.iterations <= cold.iterations


def test_iteration_cap_and_bad_data() -> None:
    layout = LAYOUTS["inputs and states"]
    solver = QpSolver(layout)
    random_qp(solver, layout, np.random.default_rng(4))
    solver.settings.max_iter = 2
    capped = solver.solve()
    assert capped.status == "max_iter" and capped.iterations == 2
    assert np.isfinite(solver.solution["u"]).all()
    solver.settings.max_iter = 30
    solver.data["A"][3, 2] = np.nan
    assert solver.solve().status == "nonfinite_data"


def test_setup_reports_a_nan_on_the_input_hessians_diagonal() -> None:
    """setup checks the gains instead of the data: a NaN pivot must reach them, not be
    regularized away. It once was (the pivot's floor took NaN for a small pivot), and a NaN
    in stage 0's R, whose feedforward term setup leaves to the step, went unreported."""
    for name in ("inputs only", "inputs and states"):
        layout = LAYOUTS[name]
        solver, nu = QpSolver(layout), layout.nu
        for k in (0, layout.N - 1):
            random_qp(solver, layout, np.random.default_rng(4))  # every R afresh: finite again
            assert solver.setup() == "ok"
            solver.data["R"][k].reshape(nu, nu)[nu - 1, nu - 1] = np.nan
            assert solver.setup() == "nonfinite_data", (name, k)


def test_singular_input_hessian_is_regularized() -> None:
    """R = 0 and no active bounds: the regularized Riccati sweep still returns a finite answer."""
    layout = LAYOUTS["inputs only"]
    solver = QpSolver(layout)
    random_qp(solver, layout, np.random.default_rng(5))
    solver.data["R"][:] = 0.0
    solver.data["S"][:] = 0.0
    result = solver.solve()
    assert result.status in ("ok", "max_iter")
    assert np.isfinite(solver.solution["u"]).all()


def test_float_build_agrees_with_double() -> None:
    layout = LAYOUTS["inputs and states"]
    double, single = QpSolver(layout, "double"), QpSolver(layout, "float", prefix="qpfloat")
    rng = np.random.default_rng(6)
    random_qp(double, layout, rng)
    for name, value in double.data.items():
        single.data[name][:] = value
    assert double.solve().status == "ok"
    assert single.solve().status in ("ok", "max_iter")
    scale = max(1.0, float(np.abs(double.solution["u"]).max()))
    assert np.abs(single.solution["u"] - double.solution["u"]).max() <= 1e-3 * scale


@pytest.mark.slow
def test_float_solver_over_many_problems() -> None:
    """float: 40 random QPs per layout; every answer (converged, capped or stalled: then the
    best iterate) within 2e-2 of the double solution, and most converge."""
    statuses = []
    for name, layout in LAYOUTS.items():
        tag = "".join(c for c in name if c.isalnum())
        single, double = QpSolver(layout, "float", prefix=f"f{tag}"), QpSolver(layout, "double", prefix=f"d{tag}")
        rng = np.random.default_rng(7)
        for _ in range(40):
            random_qp(double, layout, rng)
            for key, value in double.data.items():
                single.data[key][:] = value
            assert double.solve().status == "ok"
            statuses.append(single.solve().status)
            scale = max(1.0, float(np.abs(double.solution["u"]).max()))
            assert np.abs(single.solution["u"] - double.solution["u"]).max() <= 2e-2 * scale
    assert statuses.count("ok") >= 0.85 * len(statuses)


@pytest.mark.parametrize("precision", ["double", "float"])
def test_qp_source_compiles_strictly(tmp_path: Path, precision: str) -> None:
    from conftest import compilers

    for name, layout in {**LAYOUTS, **HARD_LAYOUTS}.items():
        files = render_qp(QpProgram("strict", SCALARS[precision], layout, __version__))
        for fname, text in files.items():
            (tmp_path / fname).write_text(text)
        for cc in compilers():
            cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-Wconversion", "-Wshadow",
                   "-Wdouble-promotion", "-O2", "-c", str(tmp_path / "strict_qp.c"), "-o", str(tmp_path / "qp.o")]
            run = subprocess.run(cmd, capture_output=True, text=True)
            assert run.returncode == 0, f"{cc} {precision} {name}:\n{run.stderr}"
