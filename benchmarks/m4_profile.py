"""Where a real-time step's instructions and cycles go on the Cortex-M4F: a per-function profile.

Generates the float controller, runs ``mpcgen firmware``'s check (it builds the check program
and counts the steps with SysTick), then runs the program under QEMU once more with its
execution log on a pipe (as ``benchmarks/m4_cycles.py``) and counts every executed instruction
by address, with its zero-wait cycles by the Cortex-M4 TRM's tables
(``mpcgen/checks/firmware/cycles.py``). Each address is charged to the innermost C function it
was compiled from, inlined ones included: the generated library is compiled again with the
same flags plus ``-g`` (which does not change gcc's code: each function's size is checked
against the linked program's) and asked with ``addr2line``. Prints, for the full steps (within
5 % of the largest: a factorization of every stage) and for the others (a reused
factorization), the instructions and cycles per step by function, largest first.

    .venv/bin/python benchmarks/m4_profile.py [--keep DIR] [--top K] [example:N]

About 2-3 minutes on two idle cores. Needs `make tools`. A model of the core's timing, not a
measurement on hardware (see the README, "Instructions are not cycles").
"""

from __future__ import annotations

import argparse
import bisect
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from mpcgen import generate
from mpcgen.checks.firmware.budget import firmware_check
from mpcgen.checks.firmware.build import (OPTIMIZE_FLAGS, STRICT_FLAGS, TARGETS, Sources, compile_objects, find_sources,
                                          tool)
from mpcgen.checks.firmware.cycles import BlockSummary, step_cycles

FULL = 0.95   # a step within this share of the largest counts as a full one


def binutil(name: str) -> str:
    return str(Path(tool("arm-none-eabi-gcc")).with_name(f"arm-none-eabi-{name}"))


def symbols(binary: Path) -> list[tuple[int, int, str]]:
    """(start, size, name) of the function symbols of an ELF or object, sorted by start."""
    out = subprocess.run([binutil("nm"), "-S", "--defined-only", str(binary)], check=True, capture_output=True,
                         text=True).stdout
    rows = [(int(p[0], 16) & ~1, int(p[1], 16), p[3]) for p in (line.split() for line in out.splitlines())
            if len(p) == 4 and p[2] in "tTwW"]
    return sorted(rows)


def innermost(objects: dict[str, Path], symbol: str, offsets: list[int]) -> dict[int, str]:
    """addr2line's innermost (inlined) function for each offset into ``symbol``'s section (the
    symbol itself for code outside the generated library: libm's, the check program's)."""
    obj = objects.get(symbol)
    if obj is None:
        return {o: symbol for o in offsets}
    lines = subprocess.run([binutil("addr2line"), "-a", "-f", "-i", "-j", f".text.{symbol}", "-e", str(obj),
                            *(hex(o) for o in offsets)], check=True, capture_output=True, text=True).stdout.splitlines()
    found: dict[int, str] = {}
    for k, line in enumerate(lines[:-1]):
        if line.startswith("0x"):   # -a: the address, then its inline chain, innermost first
            found[int(line, 16)] = lines[k + 1]
    return {o: found.get(o, symbol) for o in offsets}


def debug_objects(sources: Sources, work: Path, elf: Path) -> dict[str, Path]:
    """The library compiled again with -g: per function symbol, its object. Fails when a
    function's size differs from the linked program's (then -g changed the code)."""
    target = TARGETS["float"]
    flags = (*target.cpu_flags, *STRICT_FLAGS, *OPTIMIZE_FLAGS, "-ffunction-sections", "-fdata-sections", "-g")
    linked = {name: size for _, size, name in symbols(elf)}
    owner = {}
    for obj in compile_objects(sources, tool("arm-none-eabi-gcc"), flags, work / "debug"):
        for _, size, name in symbols(obj):
            if name in linked and linked[name] != size:
                raise SystemExit(f"{name}: {size} bytes with -g, {linked[name]} in the check program")
            owner[name] = obj
    return owner


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default="quadrotor:10", help="example:N (default: %(default)s)")
    ap.add_argument("--keep", type=Path, help="generate and build into DIR (kept) instead of a temporary folder")
    ap.add_argument("--top", type=int, default=25, help="functions to print (default: %(default)s)")
    args = ap.parse_args()
    example, _, horizon = args.config.partition(":")
    per_step: list[Counter[int]] = []   # per step: executions by block (its id)
    blocks: dict[int, BlockSummary] = {}  # keeps every counted block alive, so that ids stay unique

    def record(i: int, block: BlockSummary) -> None:
        while len(per_step) <= i:
            per_step.append(Counter())
        blocks.setdefault(id(block), block)
        per_step[i][id(block)] += 1

    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        folder = generate(example, base / f"{example}_{horizon or 'ocp'}", precision="float",
                          horizon=int(horizon) if horizon else None)
        work = base / f"{example}_{horizon or 'ocp'}_build"
        budget = firmware_check(folder, compilers=("gcc",), work=work)
        target = TARGETS["float"]
        elf = work / target.name / "check.elf"
        sources = find_sources(folder)
        objects = debug_objects(sources, work, elf)
        steps = step_cycles(elf, target, sources.prefix, record)
        functions = symbols(elf)
        # every executed address: its function symbol, then the innermost inlined function
        executed = {a for counts in per_step for key in counts for a in blocks[key].addresses}
        starts = [start for start, _, _ in functions]
        by_symbol: dict[int, list[int]] = {}
        for a in executed:
            k = bisect.bisect_right(starts, a) - 1
            by_symbol.setdefault(k if k >= 0 and a < starts[k] + max(functions[k][1], 1) else -1, []).append(a)
        owner: dict[int, str] = {}
        for k, addrs in by_symbol.items():
            if k < 0:
                owner.update(dict.fromkeys(addrs, "?"))
                continue
            start, _, name = functions[k]
            inner = innermost(objects, name, sorted(a - start for a in addrs))
            owner.update({a: name if inner[a - start] == name else f"{inner[a - start]} ({name})" for a in addrs})
    largest = max(s.instructions for s in steps)
    full = [i for i, s in enumerate(steps) if s.instructions >= FULL * largest]
    rest = [i for i, s in enumerate(steps) if s.instructions < FULL * largest]
    print(f"{args.config}: {len(steps)} steps, {len(full)} full; SysTick median {budget.instructions_median:,}, "
          f"max {budget.instructions_max:,}, bound {budget.bound:,}")

    def table(indices: list[int], title: str) -> None:
        if not indices:
            return
        instructions: Counter[str] = Counter()
        cycles: Counter[str] = Counter()
        for i in indices:
            for key, n in per_step[i].items():
                b = blocks[key]
                for a, c in zip(b.addresses, b.each):
                    instructions[owner[a]] += n
                    cycles[owner[a]] += n * c
        n, whole, whole_cycles = len(indices), sum(instructions.values()), sum(cycles.values())
        print(f"\n{title}: {whole / n:,.0f} instructions and {whole_cycles / n:,.0f} zero-wait cycles per step "
              f"(TRM tables, branch refills not counted) over {n} steps")
        print(f"{'function (inlined into)':<60} {'instr/step':>10} {'share':>6} {'cycles/step':>11} {'share':>6} "
              f"{'cyc/instr':>9}")
        for name, m in instructions.most_common(args.top):
            print(f"{name:<60} {m / n:>10,.0f} {m / whole:>6.1%} {cycles[name] / n:>11,.0f} "
                  f"{cycles[name] / whole_cycles:>6.1%} {cycles[name] / m:>9.2f}")

    table(full, "full steps")
    table(rest, "the other steps (a reused factorization)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
