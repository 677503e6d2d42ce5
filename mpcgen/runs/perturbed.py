"""Closed-loop quality away from the scenario: the real-time controller from perturbed starts.

A scenario is one benign maneuver. Here the same compiled controller is started
(``PREFIX_mpc_start``: a converged plan) from ``count`` states drawn uniformly over
``scale`` times the model's declared state ranges around the nominal state, and runs
``steps`` samples toward the OCP's reference, once with the fixed-work real-time step
and once with ``solve`` (SQP and QP to convergence at every sample), without noise. Each
pair of runs is scored as in :mod:`.quality`; a start is *lost* when the real-time loop
ends further from the reference than the converged one by more than ``REACH_SLACK`` of a
state's range.

Acceptance (``PerturbedQuality.problems``): the pooled cost (summed over the starts)
within ``COST_RATIO`` of the converged controller's, no input outside its bounds, per
start a soft-state violation within the converged one's + ``SOFT_SLACK``, and no start
lost. Far from the nominal state the converged controller itself can fail (a
quadrotor drawn over its whole declared ranges, yaw to ±π and rates to 4 rad/s, is not
always recovered by a 0.2 s horizon), and then the two loops part chaotically: the
pooled ratio measures the real-time iteration only where the OCP controls well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compiled.controller_binding import load
from ..errors import OptionsError
from ..problem.model import Model
from .closed_loop import ClosedLoop, folder_problem
from .quality import COST_RATIO, REACH_SLACK, SOFT_SLACK, Score, score
from .simulate import simulate

DEFAULT_SCALE = 0.3
DEFAULT_STARTS = 10
DEFAULT_STEPS = 150


def check_options(scale: float, count: int, steps: int) -> None:
    """Reject a scale outside (0, 1] or fewer than one start or step, naming the option."""
    if not 0 < scale <= 1:
        raise OptionsError(f"perturbed starts: scale must be in (0, 1], got {scale}")
    if count < 1:
        raise OptionsError(f"perturbed starts: count must be >= 1, got {count}")
    if steps < 1:
        raise OptionsError(f"perturbed starts: steps must be >= 1, got {steps}")


def scaled_ranges(model: Model, scale: float) -> np.ndarray:
    """(lo, hi) per state: ``scale`` of the declared range on each side of the nominal state."""
    check_options(scale, 1, 1)
    nominal = np.array([v.nominal for v in model.states])
    lo = np.array([v.lo for v in model.states])
    hi = np.array([v.hi for v in model.states])
    return np.stack([nominal - scale * (nominal - lo), nominal + scale * (hi - nominal)], axis=1)


def perturbed_states(model: Model, count: int, scale: float = DEFAULT_SCALE, seed: int = 0) -> np.ndarray:
    """``count`` x nx initial states drawn uniformly over :func:`scaled_ranges`."""
    check_options(scale, count, 1)
    box = scaled_ranges(model, scale)
    return np.random.default_rng(seed).uniform(box[:, 0], box[:, 1], size=(count, model.nx))


@dataclass(frozen=True)
class StartScore:
    x0: np.ndarray
    real_time: Score
    converged: Score

    @property
    def ratio(self) -> float:
        return self.real_time.cost / self.converged.cost

    @property
    def lost(self) -> bool:
        return self.real_time.further_than(self.converged)

    @property
    def softer(self) -> bool:
        return self.real_time.softer_than(self.converged)


@dataclass(frozen=True)
class PerturbedQuality:
    model: str
    precision: str
    N: int
    scale: float
    steps: int
    starts: tuple[StartScore, ...]

    @property
    def ratio(self) -> float:
        """The real-time controller's cost summed over the starts over the converged one's."""
        return sum(s.real_time.cost for s in self.starts) / sum(s.converged.cost for s in self.starts)

    @property
    def worst(self) -> float:
        return max(s.ratio for s in self.starts)

    @property
    def lost(self) -> int:
        return sum(s.lost for s in self.starts)

    @property
    def soft(self) -> tuple[float, float]:
        """The largest soft-state violation over the starts (over the state's range): real time, converged."""
        return (max(s.real_time.soft_violation for s in self.starts),
                max(s.converged.soft_violation for s in self.starts))

    @property
    def softer(self) -> int:
        """Starts where the real-time loop's soft violation exceeds the converged one's + SOFT_SLACK."""
        return sum(s.softer for s in self.starts)

    @property
    def converged_failures(self) -> int:
        """Starts where the converged controller itself ends more than 10 % of a range away."""
        return sum(s.converged.final_error > 0.1 for s in self.starts)

    def problems(self) -> list[str]:
        out = []
        if not self.ratio <= COST_RATIO:
            out.append(f"from perturbed starts (scale {self.scale:g}) the pooled closed-loop cost is "
                       f"{self.ratio:.4f} x the converged controller's (allowed {COST_RATIO})")
        if any(s.real_time.input_violation > 0 for s in self.starts):
            out.append("from a perturbed start an input left its bounds")
        if self.softer:
            out.append(f"from {self.softer} of {len(self.starts)} perturbed starts the soft-state violation "
                       f"exceeds the converged controller's + {SOFT_SLACK} of the range (largest "
                       f"{self.soft[0]:.3g})")
        if self.lost:
            out.append(f"{self.lost} of {len(self.starts)} perturbed starts (scale {self.scale:g}) end further from "
                       f"the reference than the converged controller (by more than {REACH_SLACK} of a range)")
        return out

    def row(self) -> str:
        return (f"{self.model:<10} {self.precision:<7} {self.N:>3} {self.scale:>5g} {len(self.starts):>6} "
                f"{self.steps:>5} {self.ratio:>8.4f} {self.worst:>8.4f} {self.soft[0]:>8.1e} {self.soft[1]:>8.1e} "
                f"{self.softer:>5} {self.lost:>5} {self.converged_failures:>9}  "
                f"{'ok' if not self.problems() else 'FAILED'}")


HEADER = (f"{'model':<10} {'scalar':<7} {'N':>3} {'scale':>5} {'starts':>6} {'steps':>5} {'ratio':>8} {'worst':>8} "
          f"{'soft':>8} {'soft sol':>8} {'soft>':>5} {'lost':>5} {'conv lost':>9}  check")
NOTES = (
    "starts drawn uniformly over scale x the declared state ranges around the nominal state, each run for",
    "steps samples toward the OCP's reference without noise, real-time step and solve from the same start;",
    "ratio = summed real-time cost / summed converged cost, worst = the largest per start; soft, soft sol:",
    "largest soft-state violation over the range (real time, solve); soft> = starts where the real-time",
    "loop's exceeds solve's + 1 % of the range; lost = starts where the real-time loop ends further from",
    "the reference than solve's (by 1 % of a range); conv lost = starts where the converged loop itself",
    "ends more than 10 % of a range away",
)


def _run(folder: Path, model: Model, ocp, ts: float, x0: np.ndarray, steps: int, mode: str) -> Score:
    ctrl = load(folder)
    ctrl.reset()
    ctrl.start(x0)
    act = ctrl.step if mode == "step" else ctrl.solve
    result = simulate(model, act, x0, ts, steps)
    return score(ClosedLoop(result, model, ocp, (), np.zeros(1), mode, np.tile(ocp.x_ref, (steps, 1))))


def perturbed_quality(folder: str | Path, scale: float = DEFAULT_SCALE, count: int = DEFAULT_STARTS,
                      steps: int = DEFAULT_STEPS, seed: int = 0) -> PerturbedQuality:
    """Score the real-time controller of ``folder`` against the converged one from perturbed starts."""
    from ..codegen.manifest import read_manifest

    folder = Path(folder)
    check_options(scale, count, steps)
    model, ocp, options, _ = folder_problem(folder)
    starts = tuple(
        StartScore(x0, _run(folder, model, ocp, options.ts, x0, steps, "step"),
                   _run(folder, model, ocp, options.ts, x0, steps, "solve"))
        for x0 in perturbed_states(model, count, scale, seed))
    precision = read_manifest(folder)["options"]["precision"]
    return PerturbedQuality(model.name, precision, ocp.N, scale, steps, starts)
