"""One sample of a robustness campaign: its closed loop and its row of the result table.

A worker process prepares a :class:`Rig` once per campaign (the folder's compiled
controller, the checked OCP, the accurately integrated plant) and runs every sample of
its batches on it: the controller is reset, started from the sample's initial state,
and steps against the plant with the sample's parameters and sensor noise
(:mod:`.sampling`). A sample that fails (a controller status that says so, an exception
anywhere) is a row that says how, never an exception out of :func:`run_sample`.

The row holds, per sample: the drawn plant parameters and start; ``success`` and the
``outcome`` ("ok", "not settled", "status qp_failure", "exception: ..."); whether the
closed loop settled at the reference and its distance to it in the OCP's weights; the closed-loop cost and the largest input and
soft-state violations (:func:`mpcgen.runs.quality.score`); the controller statuses by
kind; QP iterations (median, max); and two timings (host step time p99, the run's wall
time), the only columns that are measurements rather than functions of
(seed, index).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import casadi as ca
import numpy as np

from ..codegen.manifest import read_manifest
from ..compiled.controller_binding import STATUS, Controller
from ..compiled.ekf_binding import load_ekf
from ..errors import OptionsError
from ..problem.model import Model
from ..problem.ocp import CheckedOcp
from ..problem.options import CodegenOptions
from ..problem.scenario import Scenario, Uncertainty
from .closed_loop import ClosedLoop, drive, folder_problem, reference_schedule
from .quality import score
from .sampling import check_uncertainty, draw, noise_std
from .simulate import SimResult, plant_step, simulate

#: statuses that make a sample a failure (max_iter is the real-time step's cap: not one)
FAILING = ("qp_failure", "nonfinite_input", "bad_argument", "model_failure", "infeasible")
#: what a sample's controller acts on (see CampaignSpec.estimator)
ESTIMATORS = ("auto", "ekf", "none")
#: the measured columns; every other column is a function of (campaign seed, index)
TIMING_COLUMNS = ("step_time_p99_us", "run_time_s")


@dataclass(frozen=True)
class CampaignSpec:
    """Everything a sample's result depends on besides the folder and its index.

    ``settle_tol``, ``settle_window``: the sample settled when, over the last
    ``settle_window`` part of the run, its distance to the reference in the OCP's own
    weights, |x - x_ref|_Q = sqrt((x - x_ref)' Q (x - x_ref)), stays within ``settle_tol``
    (default 1: a deviation the OCP's weights count as one typical unit).
    """

    seed: int = 0
    uncertainty: Uncertainty = field(default_factory=Uncertainty)
    #: what the controller acts on: "auto" (the folder's EKF on noisy sensors where it has
    #: one, else the state measured with noise), "ekf" (required) or "none"
    estimator: str = "auto"
    steps: int = 100
    substeps: int = 50
    settle_tol: float = 1.0
    settle_window: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or self.steps < 1:
            raise OptionsError(f"campaign: steps must be a positive integer, got {self.steps!r}")
        if not 0 < self.settle_window <= 1:
            raise OptionsError(f"campaign: settle_window must be in (0, 1], got {self.settle_window!r}")
        if self.estimator not in ESTIMATORS:
            raise OptionsError(f"campaign: estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if not self.settle_tol > 0:
            raise OptionsError(f"campaign: settle_tol must be positive, got {self.settle_tol!r}")

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict) -> CampaignSpec:
        u = data["uncertainty"]
        uncertainty = Uncertainty(u["distribution"], tuple(tuple(r) for r in u["ranges"]), u["x0_std"],
                                  u["noise_std"], u["vary"])
        return cls(**{**data, "uncertainty": uncertainty})


@dataclass
class Rig:
    """What a worker builds once and reuses for every sample of a campaign."""

    model: Model
    ocp: CheckedOcp
    options: CodegenOptions
    scenario: Scenario
    spec: CampaignSpec
    plant: ca.Function
    controller: Controller
    noise: np.ndarray | None
    #: the folder's EKF when the samples run on its estimate (None: the state measured with noise)
    ekf: object | None = None
    #: the scenario's references over the horizon at every sample (None: the OCP's), the same
    #: for every sample
    references: np.ndarray | None = None


def prepare(folder: Path, spec: CampaignSpec, source: str | None = None) -> Rig:
    """Compile (cached) and bind ``folder``'s controller and build its plant for ``spec``."""
    model, ocp, options, scenario = folder_problem(Path(folder), source)
    if scenario is None:
        raise OptionsError(f"{folder}: its model ships no scenario to run a campaign around; "
                           "add FUNCTION_scenario(model) to the model file")
    check_uncertainty(model, spec.uncertainty)
    has_ekf = "ekf" in read_manifest(Path(folder))["interfaces"]
    if spec.estimator == "ekf" and not has_ekf:
        raise OptionsError(f"{folder}: has no EKF (its model declares no outputs with measurement noise); "
                           "run the campaign with estimator 'none' or 'auto'")
    ekf = load_ekf(folder) if has_ekf and spec.estimator != "none" else None
    return Rig(model, ocp, options, scenario, spec, plant_step(model, options.ts, spec.substeps),
               Controller(folder), noise_std(model, spec.uncertainty, scenario.noise_std), ekf,
               reference_schedule(scenario, ocp, options.ts, spec.steps))


def columns(model: Model) -> list[str]:
    """The result table's columns, in order."""
    return ["index", *(f"p_{v.name}" for v in model.parameters), *(f"x0_{v.name}" for v in model.states),
            "success", "outcome", "settled", "settle_distance", "cost", "input_violation", "soft_violation", "final_error",
            "start_status", *(f"status_{s}" for s in STATUS), "qp_iterations_median", "qp_iterations_max",
            *TIMING_COLUMNS]


def run_sample(rig: Rig, index: int, keep: bool = False) -> tuple[dict, ClosedLoop | None]:
    """Sample ``index``'s closed loop: its row, and with ``keep`` the loop itself (for replay)."""
    m, spec = rig.model, rig.spec
    sample = draw(m, rig.scenario.x0, spec.uncertainty, spec.seed, index)
    row: dict = {"index": int(index)}
    row.update({f"p_{v.name}": float(p) for v, p in zip(m.parameters, sample.p)})
    row.update({f"x0_{v.name}": float(x) for v, x in zip(m.states, sample.x0)})
    t0 = time.perf_counter()
    loop = None
    try:
        loop, start_status = _closed_loop(rig, sample)
        row.update(_measures(rig, loop, start_status))
    except Exception as exc:   # any failure of one sample is its result, not the campaign's end
        text = " ".join(str(exc).split())[:200]
        row.update(success=False, outcome=f"exception: {type(exc).__name__}: {text}", settled=False,
                   settle_distance=np.nan, cost=np.nan, input_violation=np.nan, soft_violation=np.nan, final_error=np.nan,
                   start_status="", qp_iterations_median=np.nan, qp_iterations_max=-1, step_time_p99_us=np.nan)
        row.update({f"status_{s}": 0 for s in STATUS})
    row["run_time_s"] = time.perf_counter() - t0
    return row, (loop if keep else None)


def _closed_loop(rig: Rig, sample) -> tuple[ClosedLoop, str]:
    m, ctrl = rig.model, rig.controller
    ctrl.reset()
    if rig.ekf is not None:
        return _estimated_loop(rig, sample)
    references = rig.references
    if references is not None:
        ctrl.set_x_ref_trajectory(references[0])
    start_status = ctrl.start(sample.x0)
    controller, statuses, iterations = drive(ctrl, "step", references)

    disturbance, pushes = _events(rig, sample)
    with np.errstate(all="ignore"):
        result = simulate(m, controller, sample.x0, rig.options.ts, rig.spec.steps, p_true=sample.p,
                          noise_std=rig.noise, seed=sample.noise_seed, disturbance=disturbance, plant=rig.plant,
                          pushes=pushes)
    tracked = references[:, 0, :] if references is not None else np.tile(rig.ocp.x_ref, (rig.spec.steps, 1))
    loop = ClosedLoop(result, m, rig.ocp, tuple(statuses), np.array(iterations), rig.scenario.description, tracked)
    return loop, start_status


def _events(rig: Rig, sample) -> tuple[tuple, tuple]:
    """The scenario's parameter changes and pushes within the sample's run. A change moves
    the drawn plant by the same amount it moves the nominal one."""
    nominal = np.array([v.nominal_value for v in rig.model.parameters])
    steps = rig.spec.steps
    disturbance = tuple((k, sample.p + (np.asarray(p, float) - nominal)) for k, p in rig.scenario.disturbance
                        if k < steps)
    return disturbance, tuple((k, dx) for k, dx in rig.scenario.pushes if k < steps)


def _estimated_loop(rig: Rig, sample) -> tuple[ClosedLoop, str]:
    """The sample's plant with its sensors' declared noise, the EKF, the controller on its
    estimate (:func:`~.estimated_loop.output_feedback`), as a ClosedLoop of the truth."""
    from .estimated_loop import output_feedback

    m = rig.model
    if rig.scenario.reference is not None or rig.scenario.reference_steps:
        raise OptionsError("campaign: a scenario with a reference schedule runs without the EKF for now "
                           "(estimator 'none')")
    disturbance, pushes = _events(rig, sample)
    with np.errstate(all="ignore"):
        run = output_feedback(m, rig.plant, rig.controller, rig.ekf, sample.x0, sample.p, rig.spec.steps,
                              np.random.default_rng(sample.noise_seed), disturbance=disturbance, pushes=pushes)
    result = SimResult(run.X, run.U, run.step_time, rig.options.ts)
    loop = ClosedLoop(result, m, rig.ocp, run.controller_statuses, run.qp_iterations,
                      f"{rig.scenario.description} (on the EKF's estimate)",
                      np.tile(rig.ocp.x_ref, (rig.spec.steps, 1)))
    return loop, run.start_status


def _measures(rig: Rig, loop: ClosedLoop, start_status: str) -> dict:
    o, r, spec = rig.ocp, loop.result, rig.spec
    with np.errstate(all="ignore"):
        s = score(loop)
        window = max(1, int(round(spec.settle_window * len(r.U))))
        d = r.X[-window:] - np.vstack([loop.x_ref, loop.x_ref[-1:]])[-window:]   # the reference tracked then
        distance = float(np.sqrt(np.einsum("ki,ij,kj->k", d, o.Q, d)).max())
        settled = bool(distance <= spec.settle_tol)
    counts = {f"status_{k}": loop.statuses.count(k) for k in STATUS}
    failing = [st for st in loop.statuses if st in FAILING]
    if failing:
        outcome = f"status {failing[0]}"
    elif not np.isfinite(r.X).all():
        outcome = "plant state not finite"
    elif s.input_violation > 1e-9:
        outcome = "input outside its bounds"
    elif not settled:
        outcome = "not settled"
    else:
        outcome = "ok"
    return dict(success=outcome == "ok", outcome=outcome, settled=settled, settle_distance=distance,
                cost=float(s.cost),
                input_violation=float(s.input_violation), soft_violation=float(s.soft_violation),
                final_error=float(s.final_error), start_status=start_status, **counts,
                qp_iterations_median=float(np.median(loop.qp_iterations)),
                qp_iterations_max=int(loop.qp_iterations.max()),
                step_time_p99_us=float(1e6 * np.percentile(r.solve_time, 99)))
