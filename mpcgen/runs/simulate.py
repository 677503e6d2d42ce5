"""Closed-loop simulation: a controller against an accurately integrated plant.

The plant is the model's continuous-time ODE integrated with RK4 over many substeps
per sample (default 50, much finer than a controller's discretization), optionally
with its own "true" parameters (model mismatch) and Gaussian measurement noise. Any
callable ``controller(x_measured) -> u`` can be simulated; each call is timed.

The ideal nonlinear MPC the generated controller is compared with
(:class:`~mpcgen.runs.reference.IpoptMpc`) is such a callable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import casadi as ca
import numpy as np

from ..errors import OptionsError
from ..problem.model import Model


@dataclass(frozen=True)
class SimResult:
    """States (steps+1 rows), applied inputs (steps rows) and per-step controller time [s]."""

    X: np.ndarray
    U: np.ndarray
    solve_time: np.ndarray
    ts: float

    @property
    def t(self) -> np.ndarray:
        return self.ts * np.arange(self.X.shape[0])


def plant_step(model: Model, ts: float, substeps: int = 50) -> ca.Function:
    """(x, u, p) -> x after ts, by RK4 with ``substeps`` steps (the 'true' plant)."""
    if substeps < 1:
        raise OptionsError(f"plant substeps must be >= 1, got {substeps}")
    return ca.Function("plant", [model.x, model.u, model.p],
                       [_rk4_many(model, ts, substeps)], ["x", "u", "p"], ["x_next"])


def _rk4_many(model: Model, ts: float, substeps: int) -> ca.SX:
    f = ca.Function("f", [model.x, model.u, model.p], [model.ode])
    h = ts / substeps
    x = ca.SX.sym("x", model.nx)
    k1 = f(x, model.u, model.p)
    k2 = f(x + h / 2 * k1, model.u, model.p)
    k3 = f(x + h / 2 * k2, model.u, model.p)
    k4 = f(x + h * k3, model.u, model.p)
    step = ca.Function("rk4", [x, model.u, model.p], [x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)])
    acc = step.mapaccum("steps", substeps)
    return acc(model.x, ca.repmat(model.u, 1, substeps), ca.repmat(model.p, 1, substeps))[:, -1]


def plant_events(model: Model, disturbance: Sequence[tuple[int, Sequence[float]]] = (),
                 pushes: Sequence[tuple[int, Sequence[float]]] = ()) -> tuple[dict, dict]:
    """What happens to the plant, by sample: {k: parameters from k on}, {k: state jump
    before k is measured (summed when k repeats)}, each checked against the model's sizes."""
    changes = {}
    for k, p_new in disturbance:
        p_new = np.asarray(p_new, float).reshape(-1)
        if p_new.size != model.np:
            raise OptionsError(f"disturbance at sample {k}: {p_new.size} parameters, model {model.name!r} has {model.np}")
        changes[int(k)] = p_new
    kicks = {}
    for k, dx in pushes:
        dx = np.asarray(dx, float).reshape(-1)
        if dx.size != model.nx:
            raise OptionsError(f"push at sample {k}: {dx.size} entries, model {model.name!r} has {model.nx} states")
        kicks[int(k)] = kicks.get(int(k), 0.0) + dx
    return changes, kicks


def simulate(model: Model, controller: Callable[[np.ndarray], np.ndarray], x0, ts: float, steps: int,
             p_true=None, noise_std=None, seed: int = 0, substeps: int = 50,
             disturbance: Sequence[tuple[int, Sequence[float]]] = (),
             pushes: Sequence[tuple[int, Sequence[float]]] = (), plant: ca.Function | None = None) -> SimResult:
    """Run ``steps`` samples of the closed loop from ``x0``.

    The plant runs with parameters ``p_true`` (default: nominal); ``disturbance`` lists
    changes (k, p): from sample k on, the plant's parameters are p; ``pushes`` lists state
    jumps (k, dx) added just before sample k is measured (the controller is told neither).
    ``noise_std``: one standard deviation per state, or one for all. ``plant``: a
    :func:`plant_step` of this model, ts and substeps built before (a campaign runs
    thousands of loops with one).
    """
    plant = plant_step(model, ts, substeps) if plant is None else plant
    p = np.array([v.nominal_value for v in model.parameters]) if p_true is None else np.asarray(p_true, float)
    changes, kicks = plant_events(model, disturbance, pushes)
    noise = np.zeros(model.nx) if noise_std is None else np.asarray(noise_std, float).reshape(-1)
    if noise.size not in (1, model.nx):
        raise OptionsError(f"noise: {noise.size} standard deviations, give one or {model.nx} (one per state)")
    noise = np.broadcast_to(noise, (model.nx,))
    rng = np.random.default_rng(seed)
    X = [np.asarray(x0, float).reshape(-1)]
    U, T = [], []
    for k in range(steps):
        p = changes.get(k, p)
        if k in kicks:
            X[-1] = X[-1] + kicks[k]
        measured = X[-1] + noise * rng.standard_normal(model.nx)
        t0 = time.perf_counter()
        u = np.asarray(controller(measured), float).reshape(-1)
        T.append(time.perf_counter() - t0)
        U.append(u)
        X.append(np.array(plant(X[-1], u, p)).reshape(-1))
    return SimResult(np.array(X), np.array(U), np.array(T), ts)


def simulate_scenario(model: Model, controller: Callable[[np.ndarray], np.ndarray], scenario, ts: float,
                      steps: int | None = None, seed: int = 0, substeps: int = 50) -> SimResult:
    """Run a :class:`~mpcgen.problem.scenario.Scenario`'s plant side (its x0, steps, plant
    parameters, disturbance, pushes and noise) in closed loop with ``controller``; ``steps``
    overrides its length. Its references are the controller's business (see
    :mod:`mpcgen.runs.closed_loop`)."""
    return simulate(model, controller, scenario.x0, ts, scenario.steps if steps is None else steps,
                    p_true=scenario.p_true, noise_std=scenario.noise_std, seed=seed, substeps=substeps,
                    disturbance=scenario.disturbance, pushes=scenario.pushes)
