"""Firmware check, the budget: everything for one folder, and the table of them.

``firmware_check`` runs the strict host builds (:mod:`.build`), the cross build and
the QEMU run (:mod:`.qemu`) of one folder and compares the target's outputs with the
host build of the same precision, within tolerances; ``budget_table`` formats the
results, one row per folder, and ``segment_table`` a controller's instructions per kind of
segment of its run (the CLI only prints them).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...codegen.qp_program import DEFAULT_TOL
from ...errors import FirmwareError
from .build import (
    TARGETS,
    HostCheck,
    Sources,
    Target,
    cross_build,
    find_sources,
    host_check,
    missing_tools,
    workdir,
)
from .workload import Segment, first_steps
from .qemu import (
    INSTRUCTIONS_PER_TICK,
    Run,
    check_program,
    controller_run,
    recorded_inputs,
    run_host,
    run_qemu,
)


@dataclass(frozen=True)
class SegmentCount:
    """Instructions per step over one kind of segment of a controller's run (all its segments)."""

    kind: str          # scenario, back, perturbed start, disturbance, from near the nominal state
    steps: int
    median: int
    max: int


def segment_counts(segments: tuple[Segment, ...], instructions: Sequence[int]) -> tuple[SegmentCount, ...]:
    """The steps' instructions grouped by the kind of segment they were counted in, in run order."""
    groups: dict[str, list[int]] = {}
    for first, segment in zip(first_steps(segments), segments):
        kind = segment.what.split(":")[0].rstrip("0123456789 ")
        groups.setdefault(kind, []).extend(instructions[first:first + segment.steps])
    return tuple(SegmentCount(kind, len(v), int(statistics.median(v)), max(v)) for kind, v in groups.items() if v)


@dataclass(frozen=True)
class Budget:
    """The firmware budget of one generated folder on one target, and its checks."""

    model: str
    horizon: int | None
    precision: str
    target: Target
    workload: str
    flash: int
    ram: int
    stack: int                   # static worst case along the call graph (libm excluded)
    stack_measured: int          # high-water mark of the workload on the target (libm included)
    instructions_median: int
    instructions_max: int
    feedback_max: int | None     # controller: the feedback part alone (the latency)
    bound: int | None            # controller: the header's worst-case instructions per step
    steps: int
    max_error: float             # target vs host outputs, scaled (see compare_runs)
    rti_difference: float        # controller: target vs host u0 of the real-time steps, scaled (not checked)
    tolerance: float
    host: HostCheck
    foreign: tuple[str, ...]     # non-libm symbols referenced by the cross objects
    recursion: tuple[tuple[str, ...], ...]   # cycles of the cross build's call graph
    status_mismatch: str         # first step whose status differs between target and host, or ""
    model_only: bool             # the model's functions measured although a controller is there
    segments: tuple[SegmentCount, ...] = ()   # controller: instructions per kind of segment

    @property
    def min_mhz(self) -> float:
        """Clock for 1 kHz at one instruction per cycle: max instructions per step / 1 ms."""
        return self.instructions_max / 1e3

    @property
    def over_bound(self) -> bool:
        return self.bound is not None and self.instructions_max > self.bound

    @property
    def feedback_share(self) -> float | None:
        """The feedback call's part of the worst step (the latency from state to control)."""
        return None if self.feedback_max is None else self.feedback_max / max(self.instructions_max, 1)

    @property
    def passed(self) -> bool:
        return (self.host.passed and not self.foreign and not self.recursion and self.max_error <= self.tolerance
                and not self.over_bound)

    def problems(self) -> list[str]:
        out = self.host.problems()
        if self.foreign:
            out.append(f"{self.target.core} objects reference non-libm symbols: {', '.join(self.foreign)}")
        for cycle in self.recursion:
            out.append(f"{self.target.core} recursion: {' -> '.join(cycle)}")
        if self.over_bound:
            out.append(f"a step took {self.instructions_max} instructions, more than the header's bound {self.bound}")
        if self.max_error > self.tolerance:
            out.append(f"target and host outputs differ: scaled error {self.max_error:.2e} > "
                       f"tolerance {self.tolerance:.1e}" + (f" ({self.status_mismatch})" if self.status_mismatch else ""))
        return out

    def notes(self) -> list[str]:
        """Differences that do not fail the check: statuses that differ while the outputs
        agree (an iteration cap reached on one side only, from rounding)."""
        return [self.status_mismatch] if self.status_mismatch and self.max_error <= self.tolerance else []


def tolerance(precision: str, controller: bool) -> float:
    """Target vs host tolerance.

    Model outputs: 1e3 eps (the libms round differently, FMA contraction differs).
    Controller u0: the square root of the QP's default residual tolerance (1e-2 in
    float, 1e-4 in double), of the input range. Each build solves its QPs only to that
    tolerance, a rounding difference can end an interior-point solve one iteration
    earlier or later, and near a change of the active set an interior point's distance
    to the solution is of the order of the square root of its complementarity (the
    controller accepts a capped QP's best iterate on the same square-root rule); the
    warm start then carries the difference into the next steps.
    """
    if controller:
        return float(np.sqrt(DEFAULT_TOL[precision]))
    return 1e3 * float(np.finfo(np.float32 if precision == "float" else np.float64).eps)


def status_mismatch(target: Run, host: Run, controller: bool = False) -> str:
    """The first step (of the converged solves, for a controller) whose status differs
    between target and host ("" if none)."""
    ours, theirs = (target.compared_status, host.compared_status) if controller else (target.status, host.status)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"{'solve' if controller else 'step'} {k}: status {a} on the target, {b} on the host"
    return ""


def compare_runs(target: Run, host: Run, sources: Sources, real_time: bool = False) -> float:
    """Largest scaled difference of the outputs, steps and entries alike.

    Model outputs are scaled per entry by |host| + the entry's largest |host| over all
    steps; controller inputs u0 by the width of the input's range: those of the
    converged solves, or with ``real_time`` those of the real-time steps.
    """
    ours, theirs = ((target.outputs, host.outputs) if real_time or not sources.controller
                    else (target.compared, host.compared))
    if ours.shape != theirs.shape:
        raise FirmwareError(f"target and host printed different outputs: {ours.shape} vs {theirs.shape}")
    diff = np.abs(ours - theirs)
    if sources.controller:
        widths = np.array([hi - lo for lo, hi, _ in sources.input_ranges])
        scale = np.broadcast_to(widths, diff.shape)
    else:
        scale = np.abs(theirs) + np.max(np.abs(theirs), axis=0)
    scaled = np.where(diff == 0, 0.0, diff / np.where(scale > 0, scale, 1.0))
    return float(np.max(scaled)) if scaled.size else 0.0


def firmware_check(folder: Path, steps: int = 200, seed: int = 0, work: Path | None = None,
                   compilers: tuple[str, ...] = ("gcc", "clang"), model_only: bool = False) -> Budget:
    """Strict host builds, cross build, QEMU run and closed-loop comparison of ``folder``.

    The workload is the controller when the folder has one, else (or with
    ``model_only``) the model's F_and_jacobians.
    """
    missing = missing_tools(cross=True)
    if missing:
        raise FirmwareError(f"missing tools: {', '.join(missing)}; run `make tools` (Debian, as root)")
    sources = find_sources(folder, model_only)
    target = TARGETS[sources.precision]
    with workdir(work) as base:
        host = host_check(sources.folder, compilers, base, model_only)
        objects = sorted((base / "host-gcc").glob("*.o")) if "gcc" in compilers else None
        segments = controller_run(sources, seed) if sources.controller else ()
        inputs = recorded_inputs(sources, steps, seed, base, objects, segments)
        cross = cross_build(sources, check_program(sources, inputs, segments), base / target.name, target)
        on_target = run_qemu(cross.elf, target, sources.precision)
        on_host = run_host(sources, inputs, base / "host-run", objects, segments)
    if abs(on_target.instructions_per_tick - INSTRUCTIONS_PER_TICK) > 0.01 * INSTRUCTIONS_PER_TICK:
        raise FirmwareError(f"{target.machine}: SysTick counted {on_target.instructions_per_tick:.2f} instructions "
                            f"per tick, expected {INSTRUCTIONS_PER_TICK} (is -icount shift=0 in effect?)")
    error = compare_runs(on_target, on_host, sources)
    return Budget(
        model=sources.model, horizon=sources.horizon, precision=sources.precision, target=target,
        workload=sources.workload, flash=cross.flash, ram=cross.ram, stack=cross.stack,
        stack_measured=max(on_target.stack), instructions_median=int(statistics.median(on_target.instructions)),
        instructions_max=max(on_target.instructions),
        feedback_max=max(on_target.feedback_instructions) if sources.controller else None,
        bound=sources.step_bound if sources.controller and target.core == "Cortex-M4F" else None,
        steps=len(inputs), max_error=error,
        rti_difference=compare_runs(on_target, on_host, sources, real_time=True) if sources.controller else 0.0,
        tolerance=tolerance(sources.precision, sources.controller),
        host=host, foreign=cross.foreign, recursion=tuple(cross.callgraph.cycles()),
        status_mismatch=status_mismatch(on_target, on_host, sources.controller),
        model_only=model_only and find_sources(folder).controller,
        segments=segment_counts(segments, on_target.instructions) if segments else ())


def budget_table(budgets: list[Budget]) -> str:
    """The budget table: one row per folder."""
    head = (f"{'model':<10} {'workload':<8} {'N':>3} {'precision':<9} {'target':<10} {'flash B':>8} {'RAM B':>6} "
            f"{'stack B':>7} "
            f"{'stack hw':>8} {'steps':>5} {'instr/step med':>14} {'max':>8} {'bound':>8} {'feedback':>8} "
            f"{'vs host':>8}  check")
    rows = [head, "-" * len(head)]
    for b in budgets:
        share = b.feedback_share
        rows.append(f"{b.model:<10} {'mpc' if b.horizon is not None or b.feedback_max is not None else 'model':<8} "
                    f"{b.horizon if b.horizon is not None else '-':>3} {b.precision:<9} "
                    f"{b.target.core:<10} {b.flash:>8} {b.ram:>6} {b.stack:>7} {b.stack_measured:>8} {b.steps:>5} "
                    f"{b.instructions_median:>14} {b.instructions_max:>8} "
                    f"{b.bound if b.bound is not None else '-':>8} "
                    f"{f'{100 * share:.0f}%' if share is not None else '-':>8} "
                    f"{b.max_error:>8.1e}  "
                    f"{'ok' if b.passed else 'FAILED'}")
    rows += [
        "flash = .text+.rodata, RAM = .data+.bss of the generated code and the libm functions it uses",
        "  (the check program, startup file and newlib's stdio not counted)",
        "stack = worst case along gcc's call graph (libm not counted); stack hw = high-water mark measured in QEMU",
        "steps: the controller's run (scenario, back, perturbed starts; see mpcgen.checks.firmware.workload)",
        "instr/step: controller feedback + prepare, or the model's F_and_jacobians; counted by SysTick under",
        f"  QEMU -icount shift=0 (resolution {INSTRUCTIONS_PER_TICK} instructions); a real core needs more cycles",
        "  than instructions (FPU and load latencies, flash wait states; see the README)",
        "bound = the generated header's worst case per step (PREFIX_MPC_BOUND_INSTRUCTIONS, Cortex-M4F):",
        "  the check fails when a step takes more",
        "feedback = the feedback call's share of the worst step (the latency from state to control)",
        "vs host = largest difference of the target's outputs from the host build's: the controller's u0 of the",
        "  first segment solved to convergence, over its input range (allowed: sqrt of the QP tolerance, 1e-2",
        "  float, 1e-4 double); the model's outputs, relative (allowed: 1e3 eps)",
    ]
    return "\n".join(rows)


def segment_table(budgets: list[Budget]) -> str:
    """Per controller, its instructions per step over each kind of segment of the run (the
    scenario's steady loop against the perturbed starts' and disturbances' transients)."""
    head = (f"{'model':<10} {'N':>3} {'precision':<9} {'segments':<28} {'steps':>5} {'instr/step med':>14} "
            f"{'max':>8}")
    rows = [head, "-" * len(head)]
    for b in budgets:
        for c in b.segments:
            rows.append(f"{b.model:<10} {b.horizon if b.horizon is not None else '-':>3} {b.precision:<9} "
                        f"{c.kind:<28} {c.steps:>5} {c.median:>14} {c.max:>8}")
    return "\n".join(rows) if len(rows) > 2 else ""
