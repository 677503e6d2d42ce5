"""The optimal-control problem on a model.

An :class:`Ocp` is separate from the :class:`~mpcgen.problem.model.Model` (one plant can have
several controllers) and from the generation options. Over N stages of the discrete
model x_{k+1} = F(x_k, u_k, p) it minimizes

    sum_{k<N} 1/2 |x_k - x_ref|_Q^2 + 1/2 |u_k - u_ref|_R^2 + 1/2 |y(x_k, u_k, p) - y_ref|_W^2
      + 1/2 |x_N - x_ref|_P^2
      + sum of slack penalties  l1 * s + 1/2 l2 * s^2  (s >= 0)

subject to  u_lo <= u_k <= u_hi                          (hard)
            x_lo - s <= x_k <= x_hi + s,  k = 1..N       (soft)
            h(x_k, u_k, p) <= s,  h_N(x_N, p) <= s       (soft)

Soft constraints keep the problem feasible from any initial state. A state's bounds, a
row of h or of h_N can be made hard instead (``x_hard``, ``h_hard``, ``h_terminal_hard``):
no relaxation, and a QP that cannot meet them reports it (the controller's INFEASIBLE). If P is not given,
it is the solution of the discrete algebraic Riccati equation of the linearization at
the reference (the LQR cost-to-go), see :func:`terminal_weight`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import casadi as ca
import numpy as np

from ..errors import ModelError
from .model import Model


class OcpError(ModelError):
    """The optimal-control problem is inconsistent with itself or with its model."""


@dataclass(frozen=True)
class Ocp:
    """Horizon, cost and constraints of a nonlinear MPC problem (see the module docstring).

    Vectors default to "none": zero references, infinite bounds. Matrices are given as
    anything numpy turns into the right shape (a 1-D array means a diagonal).
    """

    N: int
    Q: np.ndarray
    R: np.ndarray
    P: np.ndarray | None = None
    x_ref: np.ndarray | None = None
    u_ref: np.ndarray | None = None
    u_lo: np.ndarray | None = None
    u_hi: np.ndarray | None = None
    x_lo: np.ndarray | None = None
    x_hi: np.ndarray | None = None
    #: nonlinear least-squares outputs y(x, u, p) (SX column) with weight W and reference
    y: ca.SX | None = None
    W: np.ndarray | None = None
    y_ref: np.ndarray | None = None
    #: soft path constraints h(x, u, p) <= 0 and terminal constraints h_N(x, p) <= 0
    h: ca.SX | None = None
    h_terminal: ca.SX | None = None
    #: slack penalties: exact (L1) weight and quadratic (L2) weight
    slack_l1: float = 1e3
    slack_l2: float = 1e2
    #: the finite bounds settable per stage at run time (set_u_bounds, set_x_bounds); off,
    #: the controller stores one bound per row and the setters are not emitted
    runtime_bounds: bool = False
    #: hard rows: True (all), or one flag per state (its bounds), per row of h, of h_terminal;
    #: None or False: soft
    x_hard: bool | tuple[bool, ...] | None = None
    h_hard: bool | tuple[bool, ...] | None = None
    h_terminal_hard: bool | tuple[bool, ...] | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CheckedOcp:
    """An Ocp validated against its model, with every default filled in (numpy arrays)."""

    model: Model
    N: int
    Q: np.ndarray
    R: np.ndarray
    P: np.ndarray
    x_ref: np.ndarray
    u_ref: np.ndarray
    u_lo: np.ndarray
    u_hi: np.ndarray
    x_lo: np.ndarray
    x_hi: np.ndarray
    y: ca.SX
    W: np.ndarray
    y_ref: np.ndarray
    h: ca.SX
    h_terminal: ca.SX
    slack_l1: float
    slack_l2: float
    P_from_riccati: bool
    runtime_bounds: bool = False
    #: indices of the hard states (their bounds), rows of h and of h_terminal
    x_hard: tuple[int, ...] = ()
    h_hard: tuple[int, ...] = ()
    h_terminal_hard: tuple[int, ...] = ()


def _numeric(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise OcpError(f"OCP: {name} must be numbers (a list or numpy array), got {type(value).__name__}") from None


#: largest |entry| of a weight or reference: beyond it the cost's squares and the QP's
#: products overflow (the float controller's setters accept less, see MAGNITUDE_MAX in
#: mpcgen.codegen.mpc_program)
MAGNITUDE_MAX = 1e30


def _vector(name: str, value, n: int, default: float, entries=(), bound: bool = False) -> np.ndarray:
    """``value`` as n floats; NaN never, +-Inf only in a bound. ``entries`` names index i."""
    if value is None:
        return np.full(n, default)
    a = _numeric(name, value)
    if sum(d > 1 for d in a.shape) > 1:
        raise OcpError(f"OCP: {name} has shape {'x'.join(map(str, a.shape))}, must be a vector of {n}")
    a = a.reshape(-1)
    if a.size != n:
        raise OcpError(f"OCP: {name} has {a.size} entries, the model needs {n}")
    bad = np.flatnonzero(np.isnan(a) if bound else ~np.isfinite(a))
    if bad.size:
        i = int(bad[0])
        what = f" ({entries[i]})" if i < len(entries) else ""
        fix = "" if bound else "; references must be finite"
        raise OcpError(f"OCP: {name} contains {'NaN' if np.isnan(a[i]) else a[i]} at index {i}{what}{fix}")
    problem = None if bound else reference_problem(name, a, entries)
    if problem:
        raise OcpError(f"OCP: {problem}")
    return a


def reference_problem(name: str, a: np.ndarray, entries=(), limit: float = MAGNITUDE_MAX) -> str | None:
    """An entry of the (finite) reference ``a`` beyond ``limit`` in magnitude, said, or None."""
    big = np.flatnonzero(np.abs(a) > limit)
    if not big.size:
        return None
    i = int(big[0])
    what = f" ({entries[i]})" if i < len(entries) else ""
    return f"{name}[{i}]{what} = {a[i]:g} is beyond {limit:g} in magnitude (the cost would overflow)"




def weight_problem(name: str, a: np.ndarray, limit: float = MAGNITUDE_MAX, pd: bool = False,
                   tolerance: float = 1e-12) -> str | None:
    """What is wrong with the square weight ``a`` (finite entries), or None: not symmetric,
    an entry beyond ``limit``, not positive semidefinite (definite: ``pd``), relative to
    ``tolerance``. Shared by the OCP's check and the controller's setters."""
    big = np.flatnonzero(np.abs(a) > limit)
    if big.size:
        i, j = divmod(int(big[0]), a.shape[1])
        return f"{name}[{i},{j}] = {a[i, j]:g} is beyond {limit:g} in magnitude (the cost would overflow)"
    if not np.allclose(a, a.T, rtol=tolerance, atol=tolerance * max(1.0, float(np.abs(a).max(initial=0.0)))):
        i, j = np.unravel_index(int(np.argmax(np.abs(a - a.T))), a.shape)
        return f"{name} is not symmetric ({name}[{i},{j}] = {a[i, j]:g} but {name}[{j},{i}] = {a[j, i]:g})"
    if a.size:
        smallest = float(np.linalg.eigvalsh(a).min())
        scale = max(1.0, float(np.abs(a).max()))
        if smallest < -tolerance * scale:
            return f"{name} is not positive semidefinite (smallest eigenvalue {smallest:.3g})"
        if pd and smallest <= tolerance * scale:
            return f"{name} must be positive definite (smallest eigenvalue {smallest:.3g})"
    return None


def _matrix(name: str, value, n: int, psd: bool = True, pd: bool = False) -> np.ndarray:
    a = _numeric(name, value)
    if a.ndim == 1:
        a = np.diag(a)
    if a.shape != (n, n):
        raise OcpError(f"OCP: {name} is {'x'.join(map(str, a.shape)) or 'a scalar'}, must be {n}x{n}")
    if not np.isfinite(a).all():
        raise OcpError(f"OCP: {name} has non-finite entries")
    problem = weight_problem(name, a, pd=pd) if psd else None
    if problem:
        raise OcpError(f"OCP: {problem}")
    return a


def _expression(name: str, expr, model: Model, allowed: list[ca.SX]) -> ca.SX:
    if expr is None:
        return ca.SX(0, 1)
    if isinstance(expr, ca.MX):
        raise OcpError(f"OCP: {name} is an MX expression; build it from the model's SX symbols")
    try:
        e = ca.vec(ca.SX(expr))
    except Exception:  # CasADi lists its overloads over many lines
        raise OcpError(f"OCP: {name} is a {type(expr).__name__}, not an SX expression of the model's symbols") from None
    declared = ca.vertcat(*allowed)
    free = [s.name() for s in ca.symvar(e) if not ca.depends_on(declared, s)]
    if free:
        raise OcpError(
            f"OCP: {name} uses symbol(s) {', '.join(sorted(set(free)))} that are not "
            f"{'states or parameters' if len(allowed) == 2 else 'states, inputs or parameters'} of model "
            f"{model.name!r}"
        )
    return e


def check_ocp(model: Model, ocp: Ocp, F: ca.Function | None = None) -> CheckedOcp:
    """Validate ``ocp`` against ``model``; fill defaults; derive P if needed.

    ``F`` is the discrete model (x, u, p) -> x_next used to linearize for P; it is only
    needed when P is not given.
    """
    nx, nu = model.nx, model.nu
    if not isinstance(ocp.N, numbers.Integral) or isinstance(ocp.N, bool) or not 1 <= ocp.N <= 1000:
        raise OcpError(f"OCP: horizon N must be an integer from 1 to 1000, got {ocp.N!r}")
    N = int(ocp.N)
    if not isinstance(ocp.runtime_bounds, bool):
        raise OcpError(f"OCP: runtime_bounds must be True or False, got {ocp.runtime_bounds!r}")
    Q = _matrix("Q", ocp.Q, nx)
    R = _matrix("R", ocp.R, nu)
    states = [f"state {v.name!r}" for v in model.states]
    inputs = [f"input {v.name!r}" for v in model.inputs]
    x_ref = _vector("x_ref", ocp.x_ref, nx, 0.0, states)
    u_ref = _vector("u_ref", ocp.u_ref, nu, 0.0, inputs)
    u_lo = _vector("u_lo", ocp.u_lo, nu, -math.inf, inputs, bound=True)
    u_hi = _vector("u_hi", ocp.u_hi, nu, math.inf, inputs, bound=True)
    x_lo = _vector("x_lo", ocp.x_lo, nx, -math.inf, states, bound=True)
    x_hi = _vector("x_hi", ocp.x_hi, nx, math.inf, states, bound=True)
    for lo, hi, kind, names in ((u_lo, u_hi, "input", model.inputs), (x_lo, x_hi, "state", model.states)):
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            i = int(bad[0])
            raise OcpError(f"OCP: {kind} {names[i].name!r} has lower bound {lo[i]} > upper bound {hi[i]}")
    if not (np.isfinite(u_lo) & np.isfinite(u_hi)).all():
        raise OcpError("OCP: every input needs finite bounds u_lo and u_hi (the returned control is clamped to them)")
    xs, us, ps = model.x, model.u, model.p
    y = _expression("y", ocp.y, model, [xs, us, ps])
    ny = y.numel()
    W = _matrix("W", ocp.W if ocp.W is not None else np.zeros((ny, ny)), ny)
    y_ref = _vector("y_ref", ocp.y_ref, ny, 0.0)
    h = _expression("h", ocp.h, model, [xs, us, ps])
    h_terminal = _expression("h_terminal", ocp.h_terminal, model, [xs, ps])
    for name, value in (("slack_l1", ocp.slack_l1), ("slack_l2", ocp.slack_l2)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
            raise OcpError(f"OCP: {name} must be a finite number >= 0, got {value}")
    x_hard = hard_indices("x_hard", ocp.x_hard, [v.name for v in model.states], "state")
    for i in x_hard:
        if not (np.isfinite(x_lo[i]) or np.isfinite(x_hi[i])):
            raise OcpError(f"OCP: x_hard marks state {model.states[i].name!r} hard, but it has no finite "
                           "bound (give x_lo or x_hi for it)")
    h_hard = hard_indices("h_hard", ocp.h_hard, [f"h[{j}]" for j in range(h.numel())], "row of h")
    h_terminal_hard = hard_indices("h_terminal_hard", ocp.h_terminal_hard,
                                 [f"h_terminal[{j}]" for j in range(h_terminal.numel())], "row of h_terminal")
    soft_states = [i for i in range(nx) if i not in x_hard and (np.isfinite(x_lo[i]) or np.isfinite(x_hi[i]))]
    soft_rows = bool(soft_states) or len(h_hard) < h.numel() or len(h_terminal_hard) < h_terminal.numel()
    if ocp.slack_l1 == 0 and ocp.slack_l2 == 0 and soft_rows:
        raise OcpError("OCP: soft constraints need a slack penalty: set slack_l1 or slack_l2 > 0")
    if ocp.P is not None:
        P = _matrix("P", ocp.P, nx)
        from_riccati = False
    else:
        if F is None:
            raise OcpError("OCP: P not given and no discrete model to derive it from")
        p_nom = np.array([v.nominal_value for v in model.parameters])
        P = terminal_weight(F, Q, R, x_ref, u_ref, p_nom)
        from_riccati = True
    return CheckedOcp(model, N, Q, R, P, x_ref, u_ref, u_lo, u_hi, x_lo, x_hi, y, W, y_ref, h, h_terminal,
                      float(ocp.slack_l1), float(ocp.slack_l2), from_riccati, ocp.runtime_bounds,
                      x_hard, h_hard, h_terminal_hard)


def hard_indices(name: str, value, entries: list[str], kind: str) -> tuple[int, ...]:
    """Indices flagged by ``value`` (an Ocp's x_hard, h_hard or h_terminal_hard): None or a bool
    for all ``entries``, or one bool each; a clear OcpError for anything else."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return tuple(range(len(entries))) if value else ()
    try:
        flags = [bool(v) if isinstance(v, (bool, np.bool_)) else None for v in value]
    except TypeError:
        raise OcpError(f"OCP: {name} must be True, False or one True/False per {kind}, "
                       f"got {type(value).__name__}") from None
    if None in flags:
        raise OcpError(f"OCP: {name} must hold True or False, got {list(value)!r}")
    if len(flags) != len(entries):
        raise OcpError(f"OCP: {name} has {len(flags)} entries, there {'is' if len(entries) == 1 else 'are'} "
                       f"{len(entries)} ({', '.join(entries) or f'no {kind}'})")
    return tuple(i for i, f in enumerate(flags) if f)


def terminal_weight(F: ca.Function, Q: np.ndarray, R: np.ndarray, x_ref: np.ndarray, u_ref: np.ndarray,
                    p: np.ndarray, max_iter: int = 100000, tol: float = 1e-10) -> np.ndarray:
    """P solving the discrete algebraic Riccati equation at the reference.

    P = Q + A'PA - A'PB (R + B'PB)^-1 B'PA with A, B the Jacobians of F at (x_ref, u_ref):
    the infinite-horizon LQR cost-to-go, so the truncated horizon approximates the
    infinite one. Solved by the Riccati fixed-point iteration from P = Q, which
    converges when (A, B) is stabilizable and (A, Q^1/2) detectable.
    """
    x = ca.SX.sym("x", Q.shape[0])
    u = ca.SX.sym("u", R.shape[0])
    pp = ca.SX.sym("p", p.size)
    xn = F(x, u, pp)
    jac = ca.Function("AB", [x, u, pp], [ca.jacobian(xn, x), ca.jacobian(xn, u)])
    A, B = (np.array(m) for m in jac(x_ref, u_ref, p))
    R_reg = R + 1e-12 * np.eye(R.shape[0]) * max(1.0, float(np.abs(R).max(initial=0.0)))
    P = Q.copy()
    for _ in range(max_iter):
        BtP = B.T @ P
        K = np.linalg.solve(R_reg + BtP @ B, BtP @ A)
        P_next = Q + A.T @ P @ A - A.T @ P @ B @ K
        P_next = 0.5 * (P_next + P_next.T)
        if not np.isfinite(P_next).all():
            break
        if np.abs(P_next - P).max() <= tol * max(1.0, float(np.abs(P_next).max())):
            return P_next
        P = P_next
    raise OcpError(
        "OCP: the discrete Riccati equation at the reference does not converge ((A, B) not "
        "stabilizable there, or Q does not observe the unstable modes); give the terminal weight P"
    )
