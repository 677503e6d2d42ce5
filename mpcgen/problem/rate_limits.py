"""Input-rate limits |u_k - u_{k-1}| <= du_max, with u_{-1} the input applied last.

A rate limit couples two stages, which a stage-wise QP cannot hold directly. Lifted, it
becomes stage-wise: the applied inputs join the state, and the new inputs are their
changes per sample,

    x' = f(x, u, p),   u' = du / Ts      (so u_{k+1} = u_k + du_k exactly, for every
                                          explicit Runge-Kutta scheme: u' is constant),

so the rate limit is a hard input box |du| <= du_max, and the old input bounds are hard
state bounds on u. The input symbols of the model become states unchanged: the OCP's
outputs y and constraints h keep referring to them. The controller's state is (x, u_last),
its control du: apply u_last + du and measure (x, u_last + du) next.

``rate_model`` lifts the model, ``rate_ocp`` an OCP written for it (its Q, R and bounds
are the original model's sizes; the cost on u moves onto the lifted states, and du gets a
small weight of its own).
"""

from __future__ import annotations

import dataclasses
import numbers

import casadi as ca
import numpy as np

from .model import Model, Var
from .ocp import Ocp, OcpError, hard_indices


def rate_model(model: Model, ts: float) -> Model:
    """``model`` with its inputs as states and their change per sample ``ts`` as inputs
    (named ``d_<input>``, range +- the input's range). Its outputs and noise are not kept."""
    if not (isinstance(ts, numbers.Real) and np.isfinite(ts) and ts > 0):
        raise OcpError(f"rate limits: the sample time must be a number > 0, got {ts!r}")
    lifted = tuple(Var(v.symbol, v.lo, v.hi, v.nominal, v.unit) for v in model.inputs)
    changes = tuple(Var(ca.SX.sym(f"d_{v.name}"), -(v.hi - v.lo), v.hi - v.lo, 0.0, v.unit) for v in model.inputs)
    ode = ca.vertcat(model.ode, *[d.symbol / ts for d in changes])
    return Model(model.name, model.states + lifted, changes, ode, model.parameters,
                 description=f"{model.description} (inputs lifted into the state for rate limits)".strip(),
                 reference=model.reference)


def rate_ocp(ocp: Ocp, model: Model, du_max, rate_weight=None) -> Ocp:
    """The OCP ``ocp`` (written for the model before lifting) on the lifted ``model`` of
    :func:`rate_model`, with |u_k - u_{k-1}| <= ``du_max`` (one value per input, or one
    for all) as a hard input box. The inputs' bounds become hard state bounds, their weight
    R a weight on the lifted states; ``rate_weight`` (default R / 100) weights du."""
    nu = model.nu
    nx = model.nx - nu
    if nx < 1 or not all(v.name.startswith("d_") for v in model.inputs):
        raise OcpError("rate limits: rate_ocp needs the model from rate_model(model, ts)")
    du = np.broadcast_to(np.asarray(du_max, dtype=float), (nu,)) if np.ndim(du_max) == 0 else \
        np.asarray(du_max, dtype=float).reshape(-1)
    if du.size != nu or not (np.isfinite(du).all() and (du > 0).all()):
        raise OcpError(f"rate limits: du_max must be {nu} finite numbers > 0 (one per input), got {du_max!r}")
    R = _square(ocp.R, nu)
    Q = _square(ocp.Q, nx)
    W = _square(rate_weight, nu) if rate_weight is not None else R / 100.0
    fill = lambda v, n, d: np.full(n, d) if v is None else np.asarray(v, dtype=float).reshape(-1)  # noqa: E731
    x_lo, x_hi = fill(ocp.x_lo, nx, -np.inf), fill(ocp.x_hi, nx, np.inf)
    hard = hard_indices("x_hard", ocp.x_hard, [v.name for v in model.states[:nx]], "state")
    return dataclasses.replace(
        ocp, Q=np.block([[Q, np.zeros((nx, nu))], [np.zeros((nu, nx)), R]]), R=W,
        P=None if ocp.P is None else np.block([[_square(ocp.P, nx), np.zeros((nx, nu))],
                                               [np.zeros((nu, nx)), R]]),
        x_ref=np.concatenate([fill(ocp.x_ref, nx, 0.0), fill(ocp.u_ref, nu, 0.0)]), u_ref=None,
        x_lo=np.concatenate([x_lo, fill(ocp.u_lo, nu, -np.inf)]),
        x_hi=np.concatenate([x_hi, fill(ocp.u_hi, nu, np.inf)]),
        u_lo=-du, u_hi=du, x_hard=tuple(i in hard for i in range(nx)) + (True,) * nu)


def _square(value, n: int) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    return np.diag(a) if a.ndim == 1 else a.reshape(n, n)
