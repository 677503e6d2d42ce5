"""Reference solutions of an OCP with CasADi's IPOPT, for tests and benchmarks.

The OCP (see :mod:`mpcgen.ocp`) is transcribed by multiple shooting on exactly the
discretization the generated C uses (same integrator, substeps and Ts), with one slack
per finite soft bound or soft constraint, and solved to tight tolerances. The
generated SQP solver is tested against these solutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np

from .derive import discretize
from .errors import MpcgenError
from .model import Model
from .ocp import CheckedOcp
from .options import CodegenOptions


@dataclass(frozen=True)
class ReferenceSolution:
    X: np.ndarray      # (N+1) x nx
    U: np.ndarray      # N x nu
    cost: float
    success: bool
    iterations: int
    status: str


def discrete_model(model: Model, options: CodegenOptions) -> ca.Function:
    """(x, u, p) -> x_next over one sample, as the generated C computes it."""
    return ca.Function("F", [model.x, model.u, model.p], [discretize(model, options)], ["x", "u", "p"], ["x_next"])


def solve_reference(ocp: CheckedOcp, options: CodegenOptions, x0, p=None, tol: float = 1e-12,
                    initial_U: np.ndarray | None = None) -> ReferenceSolution:
    """Solve the OCP from ``x0`` with IPOPT (multiple shooting, same discretization)."""
    m = ocp.model
    nx, nu, N = m.nx, m.nu, ocp.N
    p_val = np.array([v.nominal_value for v in m.parameters]) if p is None else np.asarray(p, float)
    x0 = np.asarray(x0, float).reshape(-1)
    F = discrete_model(m, options)
    y_fn = ca.Function("y", [m.x, m.u, m.p], [ocp.y])
    h_fn = ca.Function("h", [m.x, m.u, m.p], [ocp.h])
    hN_fn = ca.Function("hN", [m.x, m.p], [ocp.h_terminal])

    opti = ca.Opti()
    X = opti.variable(nx, N + 1)
    U = opti.variable(nu, N)
    P = opti.parameter(m.np) if m.np else None
    pp = P if P is not None else ca.MX(0, 1)
    cost = 0
    penalty = lambda s: ocp.slack_l1 * ca.sum1(s) + 0.5 * ocp.slack_l2 * ca.sumsqr(s)  # noqa: E731

    opti.subject_to(X[:, 0] == x0)
    lo_idx = np.flatnonzero(np.isfinite(ocp.x_lo))
    hi_idx = np.flatnonzero(np.isfinite(ocp.x_hi))
    for k in range(N):
        xk, uk = X[:, k], U[:, k]
        opti.subject_to(X[:, k + 1] == F(xk, uk, pp))
        opti.subject_to(opti.bounded(ocp.u_lo, uk, ocp.u_hi))
        dx, du = xk - ocp.x_ref, uk - ocp.u_ref
        cost += 0.5 * ca.bilin(ocp.Q, dx, dx) + 0.5 * ca.bilin(ocp.R, du, du)
        if ocp.y.numel():
            dy = y_fn(xk, uk, pp) - ocp.y_ref
            cost += 0.5 * ca.bilin(ocp.W, dy, dy)
        if ocp.h.numel():
            s = opti.variable(ocp.h.numel())
            opti.subject_to(s >= 0)
            opti.subject_to(h_fn(xk, uk, pp) <= s)
            cost += penalty(s)
    for k in range(1, N + 1):
        for idx, bound, sign in ((lo_idx, ocp.x_lo, -1.0), (hi_idx, ocp.x_hi, 1.0)):
            if idx.size:
                s = opti.variable(idx.size)
                opti.subject_to(s >= 0)
                opti.subject_to(sign * (X[idx.tolist(), k] - bound[idx]) <= s)
                cost += penalty(s)
    if ocp.h_terminal.numel():
        s = opti.variable(ocp.h_terminal.numel())
        opti.subject_to(s >= 0)
        opti.subject_to(hN_fn(X[:, N], pp) <= s)
        cost += penalty(s)
    dxN = X[:, N] - ocp.x_ref
    cost += 0.5 * ca.bilin(ocp.P, dxN, dxN)
    opti.minimize(cost)
    if P is not None:
        opti.set_value(P, p_val)
    # warm start: initial controls (default u_ref clamped) and their simulated states
    U0 = np.clip(np.tile(ocp.u_ref, (N, 1)), ocp.u_lo, ocp.u_hi) if initial_U is None else np.asarray(initial_U)
    X0 = [x0]
    for k in range(N):
        X0.append(np.array(F(X0[-1], U0[k], p_val)).reshape(-1))
    opti.set_initial(U, U0.T)
    opti.set_initial(X, np.array(X0).T)
    opti.solver("ipopt", {"print_time": False}, {"print_level": 0, "tol": tol, "max_iter": 3000,
                                                  "sb": "yes", "acceptable_iter": 0})
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
