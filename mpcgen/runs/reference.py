"""Reference solutions of an OCP with CasADi's IPOPT, for tests, benchmarks and closed loops.

The OCP (see :mod:`mpcgen.problem.ocp`) is transcribed by multiple shooting on exactly the
discretization the generated C uses (same integrator, substeps and Ts), with one slack
per finite soft bound or soft constraint, and solved to tight tolerances. The
generated SQP solver is tested against these solutions; :class:`IpoptMpc`, the OCP
solved to convergence at every sample, is the ideal closed loop it is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np

from ..derivatives.discretize import discrete_model
from ..errors import MpcgenError
from ..problem.ocp import CheckedOcp
from ..problem.options import CodegenOptions


@dataclass(frozen=True)
class ReferenceSolution:
    X: np.ndarray      # (N+1) x nx
    U: np.ndarray      # N x nu
    cost: float
    success: bool
    iterations: int
    status: str


@dataclass(frozen=True)
class StageBounds:
    """Bounds per stage, as a controller with runtime bounds holds them: ``u_lo``, ``u_hi``
    N x nu; ``x_lo``, ``x_hi`` (N+1) x nx (row 0, the measured state's, unused)."""

    u_lo: np.ndarray
    u_hi: np.ndarray
    x_lo: np.ndarray
    x_hi: np.ndarray

    @staticmethod
    def of(ocp: CheckedOcp) -> "StageBounds":
        """The OCP's bounds at every stage."""
        N = ocp.N
        return StageBounds(np.tile(ocp.u_lo, (N, 1)), np.tile(ocp.u_hi, (N, 1)), np.tile(ocp.x_lo, (N + 1, 1)),
                           np.tile(ocp.x_hi, (N + 1, 1)))


@dataclass
class _Transcription:
    """The OCP as a CasADi Opti problem, with the initial state as a parameter."""

    opti: ca.Opti
    X: ca.MX
    U: ca.MX
    x0: ca.MX
    cost: ca.MX
    F: ca.Function
    p: np.ndarray


def _transcribe(ocp: CheckedOcp, options: CodegenOptions, p=None, bounds: StageBounds | None = None) -> _Transcription:
    """Multiple shooting on the generated C's discretization, one slack per soft row (the
    rows of the OCP's finite state bounds, at the values of ``bounds``, default the OCP's);
    hard rows as plain inequalities."""
    m = ocp.model
    b = bounds or StageBounds.of(ocp)
    nx, nu, N = m.nx, m.nu, ocp.N
    p_val = np.array([v.nominal_value for v in m.parameters]) if p is None else np.asarray(p, float)
    F = discrete_model(m, options)
    y_fn = ca.Function("y", [m.x, m.u, m.p], [ocp.y])
    h_fn = ca.Function("h", [m.x, m.u, m.p], [ocp.h])
    hN_fn = ca.Function("hN", [m.x, m.p], [ocp.h_terminal])

    opti = ca.Opti()
    X = opti.variable(nx, N + 1)
    U = opti.variable(nu, N)
    x0 = opti.parameter(nx)
    P = opti.parameter(m.np) if m.np else None
    pp = P if P is not None else ca.MX(0, 1)
    cost = 0
    penalty = lambda s: ocp.slack_l1 * ca.sum1(s) + 0.5 * ocp.slack_l2 * ca.sumsqr(s)  # noqa: E731

    def rows_at_most_zero(value, hard) -> None:
        """value <= 0: the rows in ``hard`` as they are, the others with a penalized slack."""
        nonlocal cost
        hard_rows = [i for i in range(value.numel()) if i in hard]
        soft_rows = [i for i in range(value.numel()) if i not in hard]
        if hard_rows:
            opti.subject_to(value[hard_rows] <= 0)
        if soft_rows:
            s = opti.variable(len(soft_rows))
            opti.subject_to(s >= 0)
            opti.subject_to(value[soft_rows] <= s)
            cost += penalty(s)

    opti.subject_to(X[:, 0] == x0)
    lo_idx = np.flatnonzero(np.isfinite(ocp.x_lo))
    hi_idx = np.flatnonzero(np.isfinite(ocp.x_hi))
    for k in range(N):
        xk, uk = X[:, k], U[:, k]
        opti.subject_to(X[:, k + 1] == F(xk, uk, pp))
        opti.subject_to(opti.bounded(b.u_lo[k], uk, b.u_hi[k]))
        dx, du = xk - ocp.x_ref, uk - ocp.u_ref
        cost += 0.5 * ca.bilin(ocp.Q, dx, dx) + 0.5 * ca.bilin(ocp.R, du, du)
        if ocp.y.numel():
            dy = y_fn(xk, uk, pp) - ocp.y_ref
            cost += 0.5 * ca.bilin(ocp.W, dy, dy)
        if ocp.h.numel():
            rows_at_most_zero(h_fn(xk, uk, pp), ocp.h_hard)
    for k in range(1, N + 1):
        for idx, bound, sign in ((lo_idx, b.x_lo[k], -1.0), (hi_idx, b.x_hi[k], 1.0)):
            if idx.size:
                rows_at_most_zero(sign * (X[idx.tolist(), k] - bound[idx]),
                                  [r for r, i in enumerate(idx) if i in ocp.x_hard])
    if ocp.h_terminal.numel():
        rows_at_most_zero(hN_fn(X[:, N], pp), ocp.h_terminal_hard)
    dxN = X[:, N] - ocp.x_ref
    cost += 0.5 * ca.bilin(ocp.P, dxN, dxN)
    opti.minimize(cost)
    if P is not None:
        opti.set_value(P, p_val)
    return _Transcription(opti, X, U, x0, cost, F, p_val)


_IPOPT = {"print_level": 0, "tol": 1e-12, "max_iter": 3000, "sb": "yes", "acceptable_iter": 0,
          # exact bounds: a relaxed s >= 0 would lower the L1 penalty
          "bound_relax_factor": 0.0}


def _initial_guess(t: _Transcription, ocp: CheckedOcp, x0: np.ndarray, initial_U) -> tuple[np.ndarray, np.ndarray]:
    """Controls (default: u_ref clamped) and the states they give from x0."""
    N = ocp.N
    U0 = np.clip(np.tile(ocp.u_ref, (N, 1)), ocp.u_lo, ocp.u_hi) if initial_U is None else np.asarray(initial_U)
    X0 = [x0]
    for k in range(N):
        X0.append(np.array(t.F(X0[-1], U0[k], t.p)).reshape(-1))
    return np.array(X0), U0


def solve_reference(ocp: CheckedOcp, options: CodegenOptions, x0, p=None, tol: float = 1e-12,
                    initial_U: np.ndarray | None = None, bounds: StageBounds | None = None) -> ReferenceSolution:
    """Solve the OCP from ``x0`` with IPOPT (multiple shooting, same discretization);
    ``bounds``: per-stage bounds instead of the OCP's."""
    m = ocp.model
    nx, nu, N = m.nx, m.nu, ocp.N
    t = _transcribe(ocp, options, p, bounds)
    opti, X, U, cost = t.opti, t.X, t.U, t.cost
    x0 = np.asarray(x0, float).reshape(-1)
    opti.set_value(t.x0, x0)
    X0, U0 = _initial_guess(t, ocp, x0, initial_U)
    opti.set_initial(U, U0.T)
    opti.set_initial(X, X0.T)
    opti.solver("ipopt", {"print_time": False}, {**_IPOPT, "tol": tol})
    try:
        sol = opti.solve()
        stats = sol.stats()
        Xv, Uv, c = sol.value(X), sol.value(U), float(sol.value(cost))
    except RuntimeError as exc:
        stats = opti.stats()
        if "return_status" not in stats:
            raise MpcgenError(f"IPOPT failed on the reference OCP: {exc}") from None
        Xv, Uv, c = opti.debug.value(X), opti.debug.value(U), float(opti.debug.value(cost))
    return ReferenceSolution(np.array(Xv).reshape(nx, N + 1).T, np.array(Uv).reshape(nu, N).T, c,
                             bool(stats["success"]), int(stats["iter_count"]), str(stats["return_status"]))


def reference_solver(ocp: CheckedOcp, options: CodegenOptions, method: str = "ipopt", tol: float = 1e-8):
    """A reusable solver of the OCP for benchmarks: ``solve(x0, warm) -> warm``.

    ``method`` is "ipopt" or "sqpmethod" (CasADi's SQP with qpOASES, exact Hessian).
    ``warm`` is the previous (X, U) solution (None: the default initial guess); the
    next call starts from it shifted by one stage.
    """
    t = _transcribe(ocp, options)
    if method == "ipopt":
        t.opti.solver("ipopt", {"print_time": False}, {**_IPOPT, "tol": tol})
    elif method == "sqpmethod":
        t.opti.solver("sqpmethod", {"print_time": False, "print_header": False, "print_iteration": False,
                                    "print_status": False, "qpsol": "qpoases", "tol_pr": tol, "tol_du": tol,
                                    "max_iter": 200, "error_on_fail": False,
                                    "qpsol_options": {"printLevel": "none", "error_on_fail": False}})
    else:
        raise MpcgenError(f"unknown reference method {method!r}: use ipopt or sqpmethod")
    fn = t.opti.to_function(f"{method}_solver", [t.x0, t.X, t.U], [t.X, t.U])

    def solve(x0, warm=None):
        x0 = np.asarray(x0, float).reshape(-1)
        if warm is None:
            X0, U0 = _initial_guess(t, ocp, x0, None)
        else:
            X0 = np.vstack([x0, warm[0][2:], warm[0][-1:]])
            U0 = np.vstack([warm[1][1:], warm[1][-1:]])
        Xs, Us = fn(x0, X0.T, U0.T)
        return np.array(Xs).T, np.array(Us).T

    return solve


class IpoptMpc:
    """Ideal NMPC: IPOPT solves the OCP to convergence at every step (warm-started)."""

    def __init__(self, ocp: CheckedOcp, options: CodegenOptions, p=None):
        self.ocp, self.options, self.p = ocp, options, p
        self._U: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        sol = solve_reference(self.ocp, self.options, x, self.p, tol=1e-8, initial_U=self._U)
        self._U = np.vstack([sol.U[1:], sol.U[-1:]])  # shifted warm start
        return np.clip(sol.U[0], self.ocp.u_lo, self.ocp.u_hi)
