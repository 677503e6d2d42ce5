"""Closed-loop quality of the fixed-work real-time controller against the converged one.

The step counts of the real-time iteration must not be bought by controlling badly. On
an example's scenario (:mod:`.closed_loop`), the same compiled controller runs twice:
``step`` (the fixed-work real-time step, the shipped default) and ``solve`` (SQP and QP
iterated to convergence at every sample), optionally also the ideal NMPC (IPOPT to
convergence, :class:`~.reference.IpoptMpc`). Each run is scored by the OCP's stage cost
summed along the closed loop, the largest input-bound violation and the largest
soft-state violation (each scaled by the range it is measured in), and the final
distance to the reference.

``Quality.problems`` holds the acceptance rules (``mpcgen quality`` and the tests use
them): the real-time cost within ``COST_RATIO`` of the converged one, no input outside
its bounds, soft violations no larger than the converged controller's plus
``SOFT_SLACK`` of the range, and the reference reached as well as by ``solve``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import casadi as ca
import numpy as np

from .closed_loop import ClosedLoop, run_closed_loop

COST_RATIO = 1.03
SOFT_SLACK = 0.01
#: the final state error may exceed the converged controller's by this part of each state's range
REACH_SLACK = 0.01


@dataclass(frozen=True)
class Score:
    """One closed loop, scored."""

    cost: float
    input_violation: float   # largest distance outside [u_lo, u_hi], over the input's range
    soft_violation: float    # largest distance outside a soft [x_lo, x_hi], over the state's range
    final_error: float       # largest |x_final - x_ref| over the state's range
    statuses: tuple[str, ...]

    def softer_than(self, converged: Score) -> bool:
        """The soft-state rule broken: a violation beyond the converged loop's + SOFT_SLACK."""
        return self.soft_violation > converged.soft_violation + SOFT_SLACK

    def further_than(self, converged: Score) -> bool:
        """The reach rule broken: ends further from the reference than the converged loop + REACH_SLACK."""
        return self.final_error > converged.final_error + REACH_SLACK


@dataclass(frozen=True)
class Quality:
    model: str
    precision: str
    N: int
    description: str
    real_time: Score
    converged: Score
    ideal: Score | None

    @property
    def ratio(self) -> float:
        return self.real_time.cost / self.converged.cost

    def problems(self) -> list[str]:
        rt, cv = self.real_time, self.converged
        out = []
        if not self.ratio <= COST_RATIO:
            out.append(f"closed-loop cost {rt.cost:.6g} is {self.ratio:.4f} x the converged controller's {cv.cost:.6g} "
                       f"(allowed {COST_RATIO})")
        if rt.input_violation > 0:
            out.append(f"an input left its bounds by {rt.input_violation:.3g} of its range")
        if rt.softer_than(cv):
            out.append(f"soft-state violation {rt.soft_violation:.3g} of the range, the converged controller's "
                       f"{cv.soft_violation:.3g} + {SOFT_SLACK}")
        if rt.further_than(cv):
            out.append(f"final distance to the reference {rt.final_error:.3g} of the range, the converged "
                       f"controller's {cv.final_error:.3g}")
        return out

    def row(self) -> str:
        ideal = f"{self.real_time.cost / self.ideal.cost:10.4f}" if self.ideal else f"{'-':>10}"
        return (f"{self.model:<10} {self.precision:<7} {self.N:>3} {self.real_time.cost:>12.5g} "
                f"{self.converged.cost:>12.5g} "
                f"{self.ratio:>8.4f} {ideal} {self.real_time.input_violation:>8.1e} "
                f"{self.real_time.soft_violation:>8.1e} {self.converged.soft_violation:>8.1e} "
                f"{self.real_time.final_error:>8.1e}  {'ok' if not self.problems() else 'FAILED'}")


HEADER = (f"{'model':<10} {'scalar':<7} {'N':>3} {'RTI cost':>12} {'solve cost':>12} {'ratio':>8} {'vs IPOPT':>10} "
          f"{'u viol':>8} {'soft':>8} {'soft sol':>8} {'final':>8}  check")
NOTES = (
    "RTI = the shipped real-time step (fixed work); solve = SQP and QP to convergence at every sample;",
    "vs IPOPT = RTI cost over the ideal NMPC's (IPOPT to convergence at every sample); cost = the OCP's",
    "stage cost along the closed loop; u viol, soft (RTI) and soft sol (solve): largest violation over the",
    "range; final: largest |x - x_ref| at the end over the state's range",
)


def score(loop: ClosedLoop) -> Score:
    """The stage cost, violations and final error of a closed loop."""
    r, o, m = loop.result, loop.ocp, loop.model
    p = np.array([v.nominal for v in m.parameters])
    y = ca.Function("y", [m.x, m.u, m.p], [o.y]) if o.y.numel() else None
    cost = 0.0
    x_ref = loop.x_ref if loop.x_ref is not None else np.tile(o.x_ref, (len(r.U), 1))   # as tracked
    for x, u, xr in zip(r.X[:-1], r.U, x_ref):
        dx, du = x - xr, u - o.u_ref
        cost += 0.5 * float(dx @ o.Q @ dx + du @ o.R @ du)
        if y is not None:
            dy = np.array(y(x, u, p)).ravel() - o.y_ref
            cost += 0.5 * float(dy @ o.W @ dy)
    u_width = o.u_hi - o.u_lo
    above = np.maximum(r.U - o.u_hi, 0) / u_width
    below = np.maximum(o.u_lo - r.U, 0) / u_width
    x_width = np.array([v.hi - v.lo for v in m.states])
    soft = np.zeros(1)
    with np.errstate(invalid="ignore"):
        over = np.where(np.isfinite(o.x_hi), r.X[1:] - o.x_hi, 0.0)
        under = np.where(np.isfinite(o.x_lo), o.x_lo - r.X[1:], 0.0)
    soft = np.maximum(np.maximum(over, under), 0.0) / x_width
    final = np.abs(r.X[-1] - (x_ref[-1] if len(x_ref) else o.x_ref)) / x_width
    return Score(cost, float(max(above.max(), below.max())), float(soft.max()), float(final.max()), loop.statuses)


def closed_loop_quality(folder: str | Path, ideal: bool = False) -> Quality:
    """Score the real-time and the converged controller of ``folder`` on its model's scenario
    (and with ``ideal`` the IPOPT loop: slow, seconds per step for the larger examples)."""
    from ..codegen.manifest import read_manifest

    loops = {mode: run_closed_loop(folder, mode=mode) for mode in ("step", "solve", *(("ipopt",) if ideal else ()))}
    rt = loops["step"]
    precision = read_manifest(Path(folder))["options"]["precision"]
    return Quality(rt.model.name, precision, rt.ocp.N, rt.description, score(rt), score(loops["solve"]),
                   score(loops["ipopt"]) if ideal else None)
