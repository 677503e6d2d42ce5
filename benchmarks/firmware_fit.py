"""Refit the instruction costs of mpcgen's worst-case step bound (mpcgen/codegen/step_bound.py).

For each configuration below: generate the float controller, run ``mpcgen firmware``'s check
(cross build, the whole closed-loop workload on QEMU's Cortex-M4F), take the worst step it
measured, and read the units of each part of the bound from the generated header's derivation.
Then fit one instruction cost per part by non-negative least squares, relative to each
configuration's worst step, and print: the fitted costs beside the shipped ones, each
configuration's fit error, its leave-one-out prediction error, and the shipped bound's headroom.

    .venv/bin/python benchmarks/firmware_fit.py [--keep DIR]

Takes about eight minutes on two cores (QEMU and the cross compiler). Needs `make tools`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from mpcgen import generate
from mpcgen.checks.firmware.budget import firmware_check
from mpcgen.codegen.step_bound import COSTS, MARGIN

#: The crane of the tests' user models: the only controllers with general rows (its hard
#: height row) and with rate limits (lifted inputs, one general row per limit and stage).
CRANE = Path(__file__).resolve().parents[1] / "tests" / "data" / "crane" / "crane.py"
#: (example or source:function, horizon or None for the OCP's): the examples over the sizes
#: that move the parts, and the crane's general rows
CONFIGS = (
    ("pendulum", 10), ("pendulum", 20), ("pendulum", 40),
    ("quadrotor", 10), ("quadrotor", 20),
    ("cstr", 10), ("cstr", 20), ("cstr", 40),
    ("robot_arm", None), ("chain:3", None), ("chain:4", None),
    (f"{CRANE}:crane_hard", 30), (f"{CRANE}:crane_rate", 30),
)
PART = re.compile(r"^\s*\*\s+(\w+)\s+(\d+) units x\s+[\d.]+ =")


def header_units(folder: Path) -> dict[str, int]:
    """The units of each part, from the ``Worst case`` lines of the controller's header."""
    header = next(folder.glob("*_mpc.h"))
    units = {m.group(1): int(m.group(2)) for line in header.read_text().splitlines() if (m := PART.match(line))}
    if set(units) != set(COSTS):
        raise SystemExit(f"{header}: expected the parts {sorted(COSTS)}, found {sorted(units)}")
    return units


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="generate into DIR (kept) instead of a temporary folder")
    args = ap.parse_args()
    names = list(COSTS)
    rows, worst, labels, bounds = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for example, horizon in CONFIGS:
            name = example.rsplit(":", 1)[1] if example.startswith(str(CRANE)) else example
            label = f"{name} N={horizon or 'ocp'}"
            start = time.perf_counter()
            folder = generate(example, base / label.replace(" ", "_").replace(":", "").replace("=", ""),
                              precision="float", horizon=horizon)
            budget = firmware_check(folder, compilers=("gcc",))
            units = header_units(folder)
            rows.append([units[n] for n in names])
            worst.append(budget.instructions_max)
            labels.append(label)
            bounds.append(budget.bound)
            print(f"{label:<16} worst step {budget.instructions_max:>9,} instructions, bound {budget.bound:>9,} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    A, b = np.array(rows, dtype=float), np.array(worst, dtype=float)
    W = A / b[:, None]                         # relative residuals: every configuration weighs the same
    fitted, _ = nnls(W, np.ones(len(b)))
    print("\npart       fitted   shipped")
    for name, cost in zip(names, fitted):
        print(f"{name:<8} {cost:>8.2f} {COSTS[name]:>9.2f}")
    shipped = np.array([COSTS[n] for n in names])
    print(f"\n{'configuration':<16} {'worst':>9} {'fit err':>8} {'LOO err':>8} {'shipped sum':>12} {'bound':>9} {'headroom':>9}")
    for i, label in enumerate(labels):
        keep = np.arange(len(b)) != i
        loo, _ = nnls(W[keep], np.ones(int(keep.sum())))
        print(f"{label:<16} {worst[i]:>9,} {A[i] @ fitted / b[i] - 1:>+8.1%} {A[i] @ loo / b[i] - 1:>+8.1%} "
              f"{A[i] @ shipped:>12,.0f} {bounds[i]:>9,} {bounds[i] / b[i] - 1:>+9.1%}")
    print(f"\nbound = ceil(margin {MARGIN} x shipped sum / 1000) x 1000; a negative headroom is a bound that failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
