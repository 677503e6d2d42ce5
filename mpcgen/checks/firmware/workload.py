"""Firmware check, the workload: the closed-loop runs a controller's steps are counted on.

A controller is counted on segments run one after the other without a restart:

1. the example's scenario (its initial state, for its length), the real-time loop
   started by ``PREFIX_mpc_start`` from the scenario's first state;
2. back: the reference set to the scenario's first state for as long again (for the
   quadrotor the 1 m step and back to the origin; for the pendulum the swing-up and
   down again);
3. ``PERTURBED_STARTS`` perturbed starts of ``PERTURBED_STEPS`` steps each: the loop
   started again (``PREFIX_mpc_start``, not counted) from a state drawn uniformly over
   the model's declared ranges, the reference the OCP's again;
4. ``DISTURBANCES`` disturbances of ``DISTURBANCE_STEPS`` steps each: the state jumps to
   one drawn over the declared ranges and the loop goes on, not told of it (its plan
   then starts far from the state: the steps that follow are the real-time loop's
   hardest).

A folder whose model is not an example (no scenario shipped) runs 200 steps from near
the nominal state instead of 1 and 2. Only the first segment is also solved to
convergence at every step on both builds, for the target-versus-host comparison: a
fixed-work step carries the builds' rounding differences along the plan, a converged
solve does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import MpcgenError
from ...problem.source import load_source

PERTURBED_STARTS = 10
PERTURBED_STEPS = 20
DISTURBANCES = 5
DISTURBANCE_STEPS = 10
#: steps from near the nominal state when the model ships no scenario
DEFAULT_STEPS = 200


@dataclass(frozen=True)
class Segment:
    what: str
    steps: int
    #: the state jumps to this at the segment's first step (None: the loop goes on)
    start: tuple[float, ...] | None
    #: the reference x_ref of every stage from the segment's first step on (None: unchanged)
    x_ref: tuple[float, ...] | None
    #: the loop is started again (PREFIX_mpc_start) from ``start``; else the state just jumps
    restart: bool = False


def controller_segments(spec: str, state_ranges, seed: int = 0) -> tuple[Segment, ...]:
    """The segments for the model named by ``spec`` with the given (lo, hi, nominal) state ranges."""
    rng = np.random.default_rng(seed)
    lo, hi, nominal = np.array(state_ranges, dtype=float).reshape(-1, 3).T
    scenario, x_ref = _scenario(spec)
    if scenario is None:
        x0 = np.clip(nominal + 0.1 * (hi - lo) * rng.uniform(-1, 1, size=lo.size), lo, hi)
        first: list[Segment] = [Segment("from near the nominal state", DEFAULT_STEPS, tuple(x0), None)]
    else:
        first = [Segment(f"scenario: {scenario.description}", scenario.steps, scenario.x0, None),
                 Segment("back: the reference is the scenario's first state", scenario.steps, None, scenario.x0)]
    perturbed = [Segment(f"perturbed start {i + 1}: started from a state drawn over the declared ranges",
                         PERTURBED_STEPS, tuple(rng.uniform(lo, hi)), x_ref, restart=True)
                 for i in range(PERTURBED_STARTS)]
    disturbed = [Segment(f"disturbance {i + 1}: the state jumps to one drawn over the declared ranges",
                         DISTURBANCE_STEPS, tuple(rng.uniform(lo, hi)), None) for i in range(DISTURBANCES)]
    return tuple(first + perturbed + disturbed)


def _scenario(spec: str):
    """The scenario shipped with the model and the OCP's reference (None, None if there is none)."""
    try:
        source = load_source(spec)
    except MpcgenError:
        return None, None
    if source.scenario is None or source.ocp is None:
        return None, None
    ocp = source.ocp(source.model)
    x_ref = np.zeros(source.model.nx) if ocp.x_ref is None else np.asarray(ocp.x_ref, dtype=float).reshape(-1)
    return source.scenario(source.model), tuple(float(v) for v in x_ref)


def first_steps(segments: tuple[Segment, ...]) -> list[int]:
    """The index of each segment's first step in the whole run."""
    return [int(v) for v in np.cumsum([0] + [s.steps for s in segments[:-1]])]
