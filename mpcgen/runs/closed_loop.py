"""Closed loop of a generated controller folder against its accurately simulated plant.

What ``mpcgen simulate DIR`` runs: the folder's compiled controller (real-time
iteration, one QP per sample) against the model's ODE integrated by RK4 with many
substeps per sample (:mod:`mpcgen.runs.simulate`), from the model source's scenario (an
example's, or FUNCTION_scenario in a model file: its references, pushes, parameter
changes and noise) or a given initial state, with optional measurement noise and model
mismatch (plant parameters that differ from the controller's). Returns the
trajectories and a summary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen.manifest import options_of, read_manifest
from ..compiled.controller_binding import STATUS, load
from ..derivatives.discretize import discrete_model
from ..errors import OptionsError
from ..problem.model import Model
from ..problem.ocp import CheckedOcp, check_ocp
from ..problem.options import CodegenOptions
from ..problem.scenario import Scenario
from .reference import IpoptMpc
from .simulate import SimResult, simulate


@dataclass(frozen=True)
class ClosedLoop:
    """A closed-loop run: trajectories, per-step controller statistics, the problem."""

    result: SimResult
    model: Model
    ocp: CheckedOcp
    statuses: tuple[str, ...]
    qp_iterations: np.ndarray
    description: str
    #: the state reference the controller tracked at each sample (stage 0), steps x nx
    x_ref: np.ndarray | None = None

    def summary(self) -> str:
        r, o = self.result, self.ocp
        us = 1e6 * r.solve_time
        error = np.abs(r.X[-1] - (self.x_ref[-1] if self.x_ref is not None else o.x_ref))
        worst = int(np.argmax(error))
        inside = bool(((r.U >= o.u_lo) & (r.U <= o.u_hi)).all())
        counts = ", ".join(f"{s} {self.statuses.count(s)}" for s in STATUS if self.statuses.count(s))
        lines = [
            f"closed loop: {self.description}",
            f"  {len(r.U)} steps of {r.ts:g} s ({len(r.U) * r.ts:g} s), plant: RK4 with fine substeps",
            f"  final state error vs x_ref: max {error.max():.3g} ({self.model.states[worst].name})",
            f"  inputs within [u_lo, u_hi] at every step: {'yes' if inside else 'NO'}; "
            f"largest |u|: {np.abs(r.U).max(axis=0).round(4).tolist()}",
            f"  controller status: {counts}",
            f"  QP iterations per step: median {np.median(self.qp_iterations):g}, max {self.qp_iterations.max():g}",
            f"  step time (from Python, includes the call overhead; `mpcgen bench-mpc` times it in C): "
            f"median {np.median(us):.1f} us, p99 {np.percentile(us, 99):.1f} us, max {us.max():.1f} us",
        ]
        return "\n".join(lines)


def _vector(text_or_values, n: int, label: str, broadcast: bool = False) -> np.ndarray:
    values = text_or_values
    if isinstance(values, str):
        try:
            values = [float(v) for v in values.replace(",", " ").split()]
        except ValueError:
            raise OptionsError(f"{label}: expected {n} numbers separated by commas, got {text_or_values!r}") from None
    a = np.asarray(values, dtype=float).reshape(-1)
    if broadcast and a.size == 1:
        a = np.full(n, a[0])
    if a.size != n:
        raise OptionsError(f"{label}: expected {'1 or ' if broadcast else ''}{n} numbers, got {a.size}")
    if not np.isfinite(a).all():
        raise OptionsError(f"{label}: values must be finite")
    return a


def folder_problem(folder: Path, source: str | None = None) -> tuple[Model, CheckedOcp, CodegenOptions, Scenario | None]:
    """The model, checked OCP (at the folder's horizon), options and scenario (None: the source
    ships none) a generated folder was made from. ``source``: where to load the model from
    instead of the manifest's spec (a campaign worker's copy of the model file)."""
    from ..problem.source import load_source, scenario_of

    manifest = read_manifest(folder)
    options = options_of(manifest)
    spec = source or manifest["source"]
    loaded = load_source(spec)
    model = loaded.model
    if loaded.ocp is None:
        raise OptionsError(f"{folder}: its model source {manifest['source']!r} ships no OCP; nothing to simulate")
    given = loaded.ocp(model)
    controller_info = manifest["interfaces"].get("controller")
    if controller_info is not None and controller_info["N"] != given.N:
        given = dataclasses.replace(given, N=controller_info["N"])   # generated with --horizon
    ocp = check_ocp(model, given, discrete_model(model, options))
    return model, ocp, options, scenario_of(loaded)


#: what controls the plant: the real-time step (the default), the SQP solved to convergence
#: at every sample (both the folder's compiled controller), or the ideal NMPC (IPOPT)
MODES = ("step", "solve", "ipopt")


def run_closed_loop(folder: str | Path, steps: int | None = None, x0=None, noise_std=None, p_true=None,
                    seed: int = 0, substeps: int = 50, mode: str = "step") -> ClosedLoop:
    """Simulate the controller of ``folder`` in closed loop (see the module docstring).

    Defaults come from the scenario of the folder's model source (an example's, or a
    model file's FUNCTION_scenario) when it has one; otherwise ``x0`` is required and
    ``steps`` defaults to 100. ``mode``: one of MODES.
    """
    if mode not in MODES:
        raise OptionsError(f"closed loop: mode must be one of {', '.join(MODES)}, got {mode!r}")
    folder = Path(folder)
    model, ocp, options, scenario = folder_problem(folder)
    manifest = read_manifest(folder)
    description = scenario.description if scenario else "from the given initial state"
    if x0 is None and scenario is None:
        raise OptionsError(f"{folder}: no scenario for {manifest['source']!r}; give the initial state (--x0)")
    x_start = _vector(x0, model.nx, "x0") if x0 is not None else np.array(scenario.x0)
    if x0 is not None:
        description = "from the given initial state"
    n_steps = steps or (scenario.steps if scenario else 100)
    if n_steps < 1:
        raise OptionsError(f"steps must be >= 1, got {n_steps}")
    noise = _vector(noise_std, model.nx, "noise", broadcast=True) if noise_std is not None else None
    if noise is not None and (noise < 0).any():
        raise OptionsError(f"noise: standard deviations must be >= 0, got {noise.tolist()}")
    if noise is None and scenario is not None:
        noise = scenario.noise_std
    plant_p = _vector(p_true, model.np, "plant parameters") if p_true is not None else (
        scenario.p_true if scenario else None)
    disturbance = scenario.disturbance if scenario and p_true is None else ()

    references = reference_schedule(scenario, ocp, options.ts, n_steps) if scenario else None
    if references is not None and mode == "ipopt":
        raise OptionsError(f"closed loop: the scenario of {manifest['source']!r} changes the reference; the "
                           "ideal NMPC (mode ipopt) tracks the OCP's fixed x_ref only")
    if mode == "ipopt":
        controller, statuses, iterations = IpoptMpc(ocp, options), [], []
    else:
        ctrl = load(folder)
        if references is not None:
            ctrl.set_x_ref_trajectory(references[0])
        ctrl.start(x_start)
        controller, statuses, iterations = drive(ctrl, mode, references)

    result = simulate(model, controller, x_start, options.ts, n_steps, p_true=plant_p, noise_std=noise,
                      seed=seed, substeps=substeps, disturbance=disturbance,
                      pushes=scenario.pushes if scenario else ())
    tracked = references[:, 0, :] if references is not None else np.tile(ocp.x_ref, (n_steps, 1))
    return ClosedLoop(result, model, ocp, tuple(statuses), np.array(iterations if iterations else [0]), description,
                      tracked)


def drive(ctrl, mode: str = "step", references: np.ndarray | None = None):
    """The controller a simulation calls with each measured state: ``ctrl`` (a compiled
    :class:`~mpcgen.compiled.controller_binding.Controller`, started) in ``mode`` "step" or
    "solve", given the scenario's ``references`` (steps x (N+1) x nx, or None) as a firmware
    loop does: the next sample's between feedback and prepare (set after prepare, they
    would make the next feedback prepare again). Returns (controller, statuses, QP
    iterations), the two lists filled as it runs."""
    statuses: list[str] = []
    iterations: list[int] = []
    act = ctrl.step if mode == "step" else ctrl.solve
    steps = 0 if references is None else len(references)

    def changes(k: int) -> bool:
        return 0 < k < steps and not np.array_equal(references[k], references[k - 1])

    def controller(x: np.ndarray) -> np.ndarray:
        k = len(statuses)
        if mode == "step" and references is not None:
            u = ctrl.feedback(x)
            status = ctrl.last_status
            if changes(k + 1):
                ctrl.set_x_ref_trajectory(references[k + 1])
            ctrl.prepare()
            ctrl.last_status = status
        else:
            if references is not None and changes(k):
                ctrl.set_x_ref_trajectory(references[k])
            u = act(x)
        statuses.append(ctrl.last_status)
        iterations.append(ctrl.stats["qp_iterations"])
        return u

    return controller, statuses, iterations


def reference_schedule(scenario, ocp: CheckedOcp, ts: float, steps: int) -> np.ndarray | None:
    """The state reference over the horizon at every sample, steps x (N+1) x nx, or None
    when the scenario keeps the OCP's."""
    nx, N = ocp.x_ref.size, ocp.N
    if scenario.reference is not None:
        return np.array([[scenario.x_ref_at((k + j) * ts, nx) for j in range(N + 1)] for k in range(steps)])
    if not scenario.reference_steps:
        return None
    out = np.empty((steps, N + 1, nx))
    current = ocp.x_ref
    changes = dict(scenario.reference_steps)
    for k in range(steps):
        current = np.asarray(changes.get(k, current), float)
        out[k] = current
    return out
