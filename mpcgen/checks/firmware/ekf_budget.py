"""Firmware check of the generated EKF: instructions per update and predict, flash, RAM.

``ekf_check`` records the folder's output-feedback closed loop on the host
(:func:`~mpcgen.runs.estimated_loop.run_estimated_loop`: the MPC on the EKF's
estimate, the declared noise), cross-compiles the folder's model and filter strictly
for the Cortex-M of its precision with a check program that replays the recorded
inputs and measurements (``templates/firmware/ekf_main.c.j2``), runs it under QEMU
counting instructions, and compares the target's estimates with the same program
built for the host. ``ekf_table`` formats the rows (the CLI prints them).
"""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...codegen.render import environment
from ...errors import FirmwareError
from .build import Target, cross_build, find_sources, host_executable, missing_tools, workdir
from .qemu import INSTRUCTIONS_PER_TICK, _literal, _parse_run, run_qemu

#: target vs host estimates, in float's (double's) eps of each state's half range
TOLERANCE_EPS = 1e3


@dataclass(frozen=True)
class EkfBudget:
    """The EKF of one folder on one target."""

    model: str
    precision: str
    target: Target
    flash: int
    ram: int
    stack_measured: int
    update_median: int
    update_max: int
    step_median: int             # update + predict
    step_max: int
    steps: int
    max_error: float             # target vs host estimates, over each state's half range
    tolerance: float
    statuses: tuple[int, ...]

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance


HEADER = (f"{'model':<10} {'precision':<9} {'target':<11} {'update median':>13} {'update max':>10} "
          f"{'upd+pred median':>15} {'upd+pred max':>12} {'MHz @1kHz':>9} {'flash B':>8} {'RAM B':>6} "
          f"{'stack B':>7} {'vs host':>8}")


def ekf_table(budgets: list[EkfBudget]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    for b in budgets:
        lines.append(f"{b.model:<10} {b.precision:<9} {b.target.core:<11} {b.update_median:>13,} {b.update_max:>10,} "
                     f"{b.step_median:>15,} {b.step_max:>12,} {b.step_max / 1000:>9.1f} {b.flash:>8,} {b.ram:>6,} "
                     f"{b.stack_measured:>7,} {b.max_error:>8.1e}")
    lines.append("instructions per sample (QEMU -icount, 1 instruction = 1 ns; MHz: the worst sample at 1 kHz, one "
                 "instruction per cycle); flash and RAM of the model's and the filter's code with the libm they use; "
                 "stack: measured high-water mark; vs host: largest estimate difference over each state's half range")
    return "\n".join(lines)


def ekf_check(folder: str | Path, work: Path | None = None, seed: int = 0) -> EkfBudget:
    """Record, cross-build, run on QEMU and compare (see the module docstring)."""
    from ...runs.estimated_loop import run_estimated_loop

    missing = missing_tools()
    if missing:
        raise FirmwareError(f"the firmware check needs {', '.join(missing)} (make tools installs them)")
    folder = Path(folder).resolve()
    sources = find_sources(folder)
    ekf_c = folder / f"{sources.prefix}_ekf.c"
    if not ekf_c.is_file():
        raise FirmwareError(f"{folder}: has no EKF ({ekf_c.name}); give the model outputs and measurement noise")
    sources = dataclasses.replace(sources, c_files=(folder / f"{sources.prefix}.c", ekf_c), controller=False)
    loop = run_estimated_loop(folder, seed=seed)
    lit = lambda v: _literal(float(v), sources.precision)  # noqa: E731
    u_prev = np.vstack([[r[2] for r in sources.input_ranges], loop.U[:-1]])
    program = environment().get_template("firmware/ekf_main.c.j2").render(
        prefix=sources.prefix, steps=len(loop.U), double=sources.precision == "double",
        x0=[lit(v) for v in loop.x_hat0], P0=[lit(v) for v in loop.P0.ravel()],
        params=[lit(v) for v in sources.parameters],
        u_before=[[lit(v) for v in row] for row in u_prev], ys=[[lit(v) for v in row] for row in loop.Y],
        u_after=[[lit(v) for v in row] for row in loop.U])
    with workdir(work) as base:
        cross = cross_build(sources, program, base / "target")
        cross = dataclasses.replace(cross, entry_points=(f"{sources.prefix}_ekf_update", f"{sources.prefix}_ekf_predict"))
        target = run_qemu(cross.elf, cross.target, sources.precision)
        exe = host_executable(sources, program, base / "host")
        proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
        host = _parse_run(proc.stdout, sources.precision, target=False)
    scale = np.array([(hi - lo) / 2 for lo, hi, _ in sources.state_ranges])
    error = float(np.max(np.abs(target.outputs - host.outputs) / scale)) if len(target.outputs) else 0.0
    eps = float(np.finfo(np.float32 if sources.precision == "float" else np.float64).eps)
    if abs(target.instructions_per_tick - INSTRUCTIONS_PER_TICK) > 0.01 * INSTRUCTIONS_PER_TICK:
        raise FirmwareError(f"{cross.target.machine}: SysTick counted {target.instructions_per_tick:.2f} instructions "
                            f"per tick, not {INSTRUCTIONS_PER_TICK}: the instruction counts would be wrong")
    update, step = list(target.feedback_instructions), list(target.instructions)
    return EkfBudget(sources.model, sources.precision, cross.target, cross.flash, cross.ram, max(target.stack),
                     int(statistics.median(update)), max(update), int(statistics.median(step)), max(step),
                     len(step), error, TOLERANCE_EPS * eps, target.status)
