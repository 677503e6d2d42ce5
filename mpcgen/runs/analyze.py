"""``mpcgen analyze``: the discrete model's Jacobians read through their singular values.

At labelled points (the nominal point, the OCP's reference, the scenario's start,
random points of the declared ranges, and states of a closed loop) it reports the
singular values of A = dF/dx and B = dF/du, of the horizon's controllability matrix
[A^(N-1) B, ..., A B, B] and, for a model with outputs, of the observability matrix
[H; H A; ...; H A^(N-1)] (H = dh/dx). The weakest directions are named in the model's
own variables. Directions and the controllability and observability values are in
range-scaled units: each state, input and output divided by half its declared range,
so that a direction does not depend on the units the model was written in.

It also searches the state and input ranges for singular configurations (a Jacobian
that loses rank: the outputs h, the OCP's outputs y, the input map df/du), shows how
the diagonal scaling from the declared ranges changes the condition number of the QP's
KKT matrix, and propagates covariance against Monte-Carlo (:mod:`.propagation`).
"""

from __future__ import annotations

import casadi as ca
import numpy as np

from ..derivatives.jacobians import reference_function
from ..problem.model import Model
from ..problem.options import CodegenOptions
from .analysis_report import (SINGULAR, Analysis, Direction, PointAnalysis, Scaling, Singularity, half_ranges,
                              plot_analysis)
from .propagation import propagate

__all__ = ["SINGULAR", "Analysis", "analyze", "analyze_model", "find_singularities", "kkt_scaling", "plot_analysis"]


def _direction(vector: np.ndarray, names, sv: np.ndarray, k: int) -> Direction:
    return Direction(tuple(names), tuple(float(v) for v in vector), float(sv[k]), float(sv[k] / sv[0]))


def analyze_point(model: Model, jac: ca.Function, H: ca.Function | None, label: str, x, u, N: int) -> PointAnalysis:
    """Singular values and weak directions at (x, u) with parameters at their nominal values."""
    p = [v.nominal_value for v in model.parameters]
    _, A, B, _ = (m.full() for m in jac(x, u, p))
    Dx, Du = half_ranges(model.states), half_ranges(model.inputs)
    As, Bs = A * Dx[None, :] / Dx[:, None], B * Du[None, :] / Dx[:, None]
    blocks, AkB = [], Bs
    for _ in range(N):
        blocks.append(AkB)
        AkB = As @ AkB
    U, sv, _ = np.linalg.svd(np.hstack(blocks[::-1]))
    state_names = [v.name for v in model.states]
    weak_control = _direction(U[:, -1], state_names, sv, -1)
    _, svb, Vb = np.linalg.svd(Bs)
    weak_input = _direction(Vb[-1], [v.name for v in model.inputs], svb, -1) if model.nu > 1 else None
    sv_obsv = weak_observe = None
    if H is not None:
        Hs = H(x, u, p).full() * Dx[None, :] / half_ranges(model.outputs)[:, None]
        rows, HAk = [], Hs
        for _ in range(N):
            rows.append(HAk)
            HAk = HAk @ As
        _, sv_obsv, Vo = np.linalg.svd(np.vstack(rows))
        sv_obsv = sv_obsv[:model.nx]
        weak_observe = _direction(Vo[model.nx - 1], state_names, sv_obsv, -1)
    return PointAnalysis(label, tuple(map(float, x)), tuple(map(float, u)), np.linalg.svd(A, compute_uv=False),
                         np.linalg.svd(B, compute_uv=False), sv, weak_control, weak_input, sv_obsv, weak_observe)


def find_singularities(model: Model, ocp=None, samples: int = 200, seed: int = 0) -> list[Singularity]:
    """For each Jacobian (dh/dx, the OCP's dy/dx, df/du): the point of the ranges nearest to rank loss."""
    from scipy.optimize import minimize

    candidates = []
    if model.ny:
        candidates.append(("outputs h: dh/dx", ca.jacobian(model.y, model.x), [o.name for o in model.outputs],
                           half_ranges(model.outputs), half_ranges(model.states)))
    if ocp is not None and ocp.y.numel() > 0:
        ny = ocp.y.numel()
        candidates.append(("OCP outputs y: dy/dx", ca.jacobian(ocp.y, model.x), [f"y{i}" for i in range(ny)],
                           None, half_ranges(model.states)))
    if model.nu:
        candidates.append(("input map: df/du", ca.jacobian(model.ode, model.u), [v.name for v in model.states],
                           half_ranges(model.states), half_ranges(model.inputs)))
    group = (*model.states, *model.inputs)
    z = ca.vertcat(model.x, model.u)
    p = [v.nominal_value for v in model.parameters]
    rng = np.random.default_rng(seed)
    out = []
    for label, J, rows, row_scale, col_scale in candidates:
        used = [i for i, v in enumerate(group) if ca.depends_on(J, v.symbol)]
        f = ca.Function("J", [z, model.p], [J])
        base = np.array([v.nominal_value for v in group])
        lo, hi = np.array([group[i].lo for i in used]), np.array([group[i].hi for i in used])
        pts = lo + (hi - lo) * rng.random((samples, len(used)))
        if row_scale is None:   # no declared ranges: scale each row by its largest magnitude over the samples
            vals = [np.abs(f(_at(base, used, q), p).full()).max(axis=1) for q in pts[:20]]
            row_scale = np.maximum(np.max(vals, axis=0), 1e-300)

        def scaled(q):
            return f(_at(base, used, q), p).full() * col_scale[None, :] / row_scale[:, None]

        svs = np.array([np.linalg.svd(scaled(q), compute_uv=False) for q in pts])
        rank = int(max(np.sum(s > 1e-9 * s[0]) for s in svs))
        if rank == 0 or not used:
            continue

        # rank >= 2: the smallest structural singular value against the largest at the same point;
        # rank 1 (one input, one output): the singular value against its largest over the samples
        top = svs[:, 0].max() if rank == 1 else None

        def ratio(q):
            s = np.linalg.svd(scaled(np.clip(q, lo, hi)), compute_uv=False)
            return s[0] / top if rank == 1 else (s[rank - 1] / s[0] if s[0] > 0 else 1.0)

        best = min((np.clip(minimize(ratio, pts[i], method="Nelder-Mead", bounds=list(zip(lo, hi)),
                                     options={"xatol": 1e-12, "fatol": 1e-16, "maxiter": 4000}).x, lo, hi)
                    for i in np.argsort([ratio(q) for q in pts])[:3]), key=ratio)
        Uj, s, _ = np.linalg.svd(scaled(best))
        out.append(Singularity(label, {group[i].name: float(v) for i, v in zip(used, best)}, rank,
                               float(ratio(best)), _direction(Uj[:, rank - 1], rows, s, rank - 1)))
    return out


def _at(base: np.ndarray, used: list[int], q: np.ndarray) -> np.ndarray:
    z = base.copy()
    z[used] = q
    return z


def kkt_scaling(model: Model, options: CodegenOptions, ocp) -> Scaling:
    """cond of the QP's KKT matrix (Gauss-Newton Hessian, dynamics rows) at the reference, with and without
    x and u divided by half their declared ranges (and each dynamics row by its state's)."""
    jac = reference_function(model, options)
    p = [v.nominal_value for v in model.parameters]
    _, A, B, _ = (m.full() for m in jac(ocp.x_ref, ocp.u_ref, p))
    nx, nu, N = model.nx, model.nu, ocp.N
    Q, R = np.array(ocp.Q), np.array(ocp.R)
    if ocp.y.numel():
        Jy = ca.Function("Jy", [model.x, model.u, model.p], [ca.jacobian(ocp.y, ca.vertcat(model.x, model.u))])
        J = Jy(ocp.x_ref, ocp.u_ref, p).full()
        G = J.T @ np.array(ocp.W) @ J
        Q, R = Q + G[:nx, :nx], R + G[nx:, nx:]
    n = N * (nx + nu)
    Hm, Gm = np.zeros((n, n)), np.zeros((N * nx, n))
    for k in range(N):   # variables (u_0, x_1, u_1, x_2, ..., u_{N-1}, x_N)
        iu, ix = k * (nu + nx), k * (nu + nx) + nu
        Hm[iu:iu + nu, iu:iu + nu] = R
        Hm[ix:ix + nx, ix:ix + nx] = Q if k < N - 1 else np.array(ocp.P)
        Gm[k * nx:(k + 1) * nx, ix:ix + nx] = np.eye(nx)
        Gm[k * nx:(k + 1) * nx, iu:iu + nu] = -B
        if k:
            Gm[k * nx:(k + 1) * nx, iu - nx:iu] = -A
    K = np.block([[Hm, Gm.T], [Gm, np.zeros((N * nx, N * nx))]])
    Dx, Du = half_ranges(model.states), half_ranges(model.inputs)
    T = np.concatenate([np.tile(np.concatenate([Du, Dx]), N), np.tile(1.0 / Dx, N)])
    E = np.ones(K.shape[0])   # for comparison: Ruiz's symmetric equilibration, every row's largest entry 1
    for _ in range(30):
        E /= np.sqrt(np.abs(K * E[:, None] * E[None, :]).max(axis=1))
    return Scaling(tuple(Dx), tuple(Du), float(np.linalg.cond(K)), float(np.linalg.cond(K * T[:, None] * T[None, :])),
                   float(np.linalg.cond(K * E[:, None] * E[None, :])))


def analyze_model(model: Model, options: CodegenOptions, ocp=None, points: dict | None = None, samples: int = 5,
                  trajectory=None, spread: float = 0.02, mc_samples: int = 1000, seed: int = 0,
                  propagate_from=None) -> Analysis:
    """The analysis of a model (and its checked OCP, if any) without a generated folder.

    ``points``: label -> (x, u) besides the nominal point, the OCP reference and
    ``samples`` random points; ``trajectory``: (X, U) of a closed loop, optionally with
    the sample index of each row as a third entry; the covariance
    is propagated over the horizon from ``propagate_from`` (x, u; default the nominal
    point) with an initial spread of ``spread`` times each state's half range.
    """
    jac = reference_function(model, options)
    H = ca.Function("H", [model.x, model.u, model.p], [ca.jacobian(model.y, model.x)]) if model.ny else None
    N = ocp.N if ocp is not None else 20
    nominal_u = [v.nominal_value for v in model.inputs]
    named = {"nominal": ([v.nominal_value for v in model.states], nominal_u)}
    if ocp is not None:
        named["OCP reference"] = (list(ocp.x_ref), list(ocp.u_ref))
    named.update(points or {})
    merged: dict = {}   # one row per distinct point: "nominal = OCP reference"
    for label, (x, u) in named.items():
        same = next((k for k, (x2, u2) in merged.items() if np.allclose(x, x2) and np.allclose(u, u2)), None)
        if same is None:
            merged[label] = (x, u)
        else:
            merged[f"{same} = {label}"] = merged.pop(same)
    named = merged
    rng = np.random.default_rng(seed)
    for i in range(samples):
        named[f"random {i + 1}"] = ([v.lo + (v.hi - v.lo) * rng.random() for v in model.states],
                                    [v.lo + (v.hi - v.lo) * rng.random() for v in model.inputs])
    results = tuple(analyze_point(model, jac, H, label, x, u, N) for label, (x, u) in named.items())
    along = ()
    if trajectory is not None:
        X, U, *steps = trajectory
        steps = steps[0] if steps else range(len(U))
        along = tuple(analyze_point(model, jac, H, f"closed loop t={k * options.ts:.3g}", X[i], U[i], N)
                      for i, k in enumerate(steps))
    x0, u0 = propagate_from if propagate_from is not None else next(iter(named.values()))
    cov0 = np.diag((spread * half_ranges(model.states)) ** 2)
    prop = propagate(model, options, x0, np.tile(np.asarray(u0, float), (N, 1)), cov0, samples=mc_samples, seed=seed)
    return Analysis(model, options.ts, N, results, tuple(find_singularities(model, ocp, seed=seed)),
                    kkt_scaling(model, options, ocp) if ocp is not None else None, prop, along)


def analyze(folder, samples: int = 5, closed_loop: bool = True, spread: float = 0.02, mc_samples: int = 1000,
            seed: int = 0, trajectory_points: int = 25) -> Analysis:
    """``mpcgen analyze DIR``: the analysis of a generated folder's model, OCP and scenario.

    With ``closed_loop`` and a controller in the folder, the folder's compiled controller
    runs its scenario (:func:`~mpcgen.runs.closed_loop.run_closed_loop`) and up to
    ``trajectory_points`` of its states are analysed too. The covariance is propagated
    from the scenario's start (else the nominal point) with the nominal inputs.
    """
    from pathlib import Path

    from ..codegen.manifest import options_of, read_manifest
    from ..derivatives.discretize import discrete_model
    from ..problem.ocp import check_ocp
    from ..problem.source import load_source

    folder = Path(folder)
    manifest = read_manifest(folder)
    options = options_of(manifest)
    loaded = load_source(manifest["source"])
    model = loaded.model
    ocp = check_ocp(model, loaded.ocp(model), discrete_model(model, options)) if loaded.ocp else None
    scenario = loaded.scenario(model) if loaded.scenario else None
    nominal_u = [v.nominal_value for v in model.inputs]
    points = {"scenario start": (list(scenario.x0), nominal_u)} if scenario else {}
    trajectory = None
    if closed_loop and ocp is not None and "controller" in manifest["interfaces"]:
        from .closed_loop import run_closed_loop

        run = run_closed_loop(folder)
        X, U = run.result.X, run.result.U
        keep = np.unique(np.linspace(0, len(U) - 1, min(trajectory_points, len(U))).astype(int))
        trajectory = (X[keep], U[keep], keep)
    start = (list(scenario.x0), nominal_u) if scenario else None
    return analyze_model(model, options, ocp, points, samples=samples, trajectory=trajectory, spread=spread,
                         mc_samples=mc_samples, seed=seed, propagate_from=start)


