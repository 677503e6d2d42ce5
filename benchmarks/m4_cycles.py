"""Estimate the Cortex-M4F cycles of every real-time step from what QEMU executed.

For each configuration: generate the float controller, run ``mpcgen firmware``'s check (it
builds the check program and counts instructions per step with SysTick), then run the same
program under QEMU once more with its execution log on a pipe and time every executed
instruction with the Cortex-M4's published timings (mpcgen/checks/firmware/cycles.py): in
zero-wait memory, and from an STM32F4's flash at 168 MHz behind its ART accelerator. Prints
per configuration the median and worst step in instructions and in estimated cycles, the
cycles per instruction, and the clock a 1 kHz loop needs for its worst step.

    .venv/bin/python benchmarks/m4_cycles.py [--keep DIR] [example:N ...]

About 3 minutes per configuration on two idle cores (the log of a run is some GB of text,
parsed as it streams). Needs `make tools`. An estimate from a timing model, not a
measurement on hardware.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mpcgen import generate
from mpcgen.checks.firmware.budget import firmware_check
from mpcgen.checks.firmware.build import TARGETS, find_sources
from mpcgen.checks.firmware.cycles import REFILL, WAIT, step_cycles

DEFAULT = ("pendulum:20", "quadrotor:10")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", default=list(DEFAULT), help="example:N (default: %(default)s)")
    ap.add_argument("--keep", type=Path, help="generate and build into DIR (kept) instead of a temporary folder")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for config in args.configs:
            example, _, horizon = config.partition(":")
            start = time.perf_counter()
            folder = generate(example, base / f"{example}_{horizon or 'ocp'}", precision="float",
                              horizon=int(horizon) if horizon else None)
            work = base / f"{example}_{horizon or 'ocp'}_build"
            budget = firmware_check(folder, compilers=("gcc",), work=work)
            steps = step_cycles(work / TARGETS["float"].name / "check.elf", TARGETS["float"],
                                find_sources(folder).prefix)
            if len(steps) != budget.steps:
                raise SystemExit(f"{config}: the log showed {len(steps)} steps, the check counted {budget.steps}")
            logged = statistics.median(s.instructions for s in steps)
            if abs(logged / budget.instructions_median - 1) > 0.02:   # the log was misread (another QEMU's format?)
                raise SystemExit(f"{config}: the log gave a median of {logged:.0f} instructions per step, SysTick "
                                 f"{budget.instructions_median}: not the same steps")
            rows.append((config, budget, steps))
            print(f"{config}: {len(steps)} steps timed ({time.perf_counter() - start:.0f} s)", file=sys.stderr,
                  flush=True)

    def med_max(values: list[int]) -> str:
        return f"{int(statistics.median(values)):>9,} {max(values):>9,}"

    print(f"\n{'configuration':<14} {'instructions med':>16} {'max':>9}  {'zero-wait med':>13} {'max':>9}  "
          f"{'optimistic max':>15}  {'flash+ART med':>13} {'max':>9}  {'cycles/instr':>12}  {'MHz for 1 kHz':>13}")
    for config, budget, steps in rows:
        instr = [s.instructions for s in steps]
        zero = [s.zero_wait for s in steps]
        flash = [s.flash for s in steps]
        print(f"{config:<14} {med_max(instr):>26}  {med_max(zero):>23}  {max(s.optimistic for s in steps):>15,}"
              f"  {med_max(flash):>23}  {max(flash) / max(instr):>12.2f}  {max(flash) / 1e3:>13.0f}")
        print(f"{'':<14} (SysTick in the check: median {budget.instructions_median:,}, max "
              f"{budget.instructions_max:,}, bound {budget.bound:,})")
    print(f"\nzero-wait: the Cortex-M4 TRM's cycles per instruction (MAC 3, divide and square root 14, loads 2 or 1"
          f"\n  pipelined, taken branch 1 + {REFILL}); optimistic: VLDR/VSTR pipelined as the integer loads"
          f"\n  and 1-cycle multiply-accumulates"
          f"\nflash+ART: {WAIT} wait states at 168 MHz, 64 + 8 cache lines of 16 bytes, sequential prefetch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
