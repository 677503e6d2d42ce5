"""Firmware check, a cycle estimate: the executed instructions of each step, timed with the
Cortex-M4's published instruction timings.

QEMU counts instructions, not cycles. This module reads what QEMU executed (its
``-d in_asm,exec,nochain`` log: each translated block's instructions, then the sequence of
blocks run) and charges each instruction the cycles the Cortex-M4 Technical Reference
Manual gives for it (``execute_cycles``): single-cycle integer and FPU arithmetic, 3 for a
multiply-accumulate, 14 for a divide or square root, 2 for a load or store (an integer one
that follows another pipelines to 1), 1 + N for a transfer of
N registers, 1 + P for a taken branch or a pop into pc (P, the pipeline refill, is 1 to 3: ``REFILL``), and
one stall cycle when an FPU arithmetic result is read by the very next instruction (a
multiply-accumulate's addend excepted). Instructions inside an IT block are charged in full
whether or not their condition held (the trace does not say; a skipped one takes 1). The
TRM leaves room, so an optimistic variant is summed beside it: VLDR/VSTR pipelining like the
integer loads and 1-cycle multiply-accumulates (reports of chained VFMAs forwarding).

Two memories are modelled:

- **zero wait states** (code and data in single-cycle memory, or every fetch a cache hit);
- **STM32F4 flash at 168 MHz** (5 wait states: a 128-bit line takes 6 cycles) behind ST's
  ART accelerator: 64 instruction-cache lines and 8 data-cache lines of 16 bytes (LRU here),
  a sequential prefetch of the next line while the current one executes. A missed
  instruction line stalls for what the prefetch has not hidden; a missed literal-pool read
  (``ldr``/``vldr`` from ``[pc, #...]``: the compiler's constants) stalls for the wait states.

It is an estimate from a model, not a measurement: bus contention, the write buffer and
the exact cache organisation are not modelled (``benchmarks/m4_cycles.py`` runs it).
"""

from __future__ import annotations

import re
import subprocess
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .build import Target
from .qemu import qemu_command

#: pipeline refill after a taken branch (the TRM: 1 to 3 cycles)
REFILL = 2
#: flash wait states of an STM32F4 at 168 MHz (a line read takes WAIT + 1 cycles)
WAIT = 5
LINE = 16
ICACHE_LINES = 64
DCACHE_LINES = 8
_NO_LINE = -2

_FP_SLOW = {"vdiv": 14, "vsqrt": 14}
_FP_MAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
_FP_ARITH = {"vadd", "vsub", "vmul", "vnmul", "vabs", "vneg", "vcvt", "vcvtr", "vdiv", "vsqrt"} | _FP_MAC
_LOAD_STORE = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "str", "strb", "strh", "vldr", "vstr"}
_INT_LOAD_STORE = {op for op in _LOAD_STORE if not op.startswith("v")}
_MULTIPLE = {"ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "push", "pop", "vldmia", "vldmdb", "vstmia",
             "vstmdb", "vpush", "vpop", "vldm", "vstm"}
_BRANCH = {"b", "bl", "bx", "blx", "cbz", "cbnz", "tbb", "tbh"}
_CONDITIONS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")
_SREG = re.compile(r"\b([sd])(\d+)\b")


@dataclass(frozen=True)
class Instruction:
    address: int
    size: int
    op: str            # mnemonic without condition, width or type suffix (vfma, ldr, b, ...)
    operands: str

    @property
    def literal(self) -> bool:
        """A load from the literal pool (a constant in flash, read over the data bus)."""
        return self.op in ("ldr", "vldr") and "[pc" in self.operands


#: mnemonics that end like a condition code but are not one with a condition (vmls, bl, ...)
_KNOWN = _BRANCH | _LOAD_STORE | _MULTIPLE | _FP_ARITH | {"vmov", "vmrs", "vmsr", "vcmp", "vcmpe", "it", "ite",
                                                          "itt", "itte", "ittt", "itet", "itee", "ldrd", "strd",
                                                          "mla", "mls", "sdiv", "udiv"}


def _base(mnemonic: str) -> str:
    m = mnemonic.lower().split(".")[0]
    if m in _KNOWN:
        return m
    for c in _CONDITIONS:   # a condition suffix: vmoveq, bne, addge, ...
        if m.endswith(c) and len(m) > len(c):
            return m[: -len(c)]
    return m


def parse_instruction(line: str) -> Instruction | None:
    """One instruction line of QEMU's in_asm log: ``0x0000097c:  ed9f 7a36  vldr s14, [pc, #0x3d8]``."""
    head, _, rest = line.partition(":")
    words = []
    tokens = rest.split()
    while tokens and re.fullmatch(r"[0-9a-f]{4}", tokens[0]):
        words.append(tokens.pop(0))
    if not words or not tokens:
        return None
    return Instruction(int(head, 16), 2 * len(words), _base(tokens[0]), " ".join(tokens[1:]))


def _registers(text: str) -> set[str]:
    return {f"{kind}{n}" for kind, n in _SREG.findall(text)}


def _transfers(ins: Instruction) -> int:
    regs = ins.operands[ins.operands.find("{") + 1: ins.operands.find("}")]
    n = 0
    for part in regs.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (int(re.sub(r"\D", "", p)) for p in part.split("-"))
            n += b - a + 1
        elif part:
            n += 1
    if ins.op.startswith("v") and "d" in regs:
        n *= 2   # a double register is two single transfers
    return max(n, 1)


def execute_cycles(ins: Instruction, previous: Instruction | None, optimistic: bool = False) -> int:
    """The instruction's cycles in zero-wait memory, branch refills not counted (see _Timer).
    optimistic: VLDR and VSTR pipeline with a neighbouring load or store as the integer ones
    do, and a multiply-accumulate takes 1 cycle (chained ones forwarding, as some measure);
    else the TRM's tables as they stand."""
    op = ins.op
    after_load_store = previous is not None and previous.op in (_LOAD_STORE if optimistic else _INT_LOAD_STORE)
    if op in _FP_SLOW:
        c = _FP_SLOW[op]
    elif op in _FP_MAC:
        c = 1 if optimistic else 3
    elif op in _LOAD_STORE:
        # the TRM's neighbouring-load/store pipelining is stated for the integer unit
        c = 1 if after_load_store and (optimistic or not op.startswith("v")) else 2
    elif op in ("ldrd", "strd"):
        c = 3
    elif op in _MULTIPLE:
        c = 1 + _transfers(ins)
    elif op in ("mla", "mls"):
        c = 2
    elif op in ("sdiv", "udiv"):
        c = 12
    else:
        c = 1
    if previous is not None and previous.op in _FP_ARITH:
        dest = previous.operands.split(",")[0].strip()
        sources = _registers(",".join(ins.operands.split(",")[1:])) if op in _FP_ARITH else _registers(ins.operands)
        if op in _FP_MAC and ins.operands.split(",")[0].strip() == dest:
            sources.discard(dest)   # the addend is consumed a cycle later: no stall
        if dest in sources:
            c += 1
    return c


class _Lru:
    def __init__(self, size: int):
        self.size, self.lines = size, OrderedDict()

    def hit(self, line: int) -> bool:
        if line in self.lines:
            self.lines.move_to_end(line)
            return True
        self.lines[line] = True
        if len(self.lines) > self.size:
            self.lines.popitem(last=False)
        return False


@dataclass
class StepCycles:
    instructions: int = 0
    zero_wait: int = 0
    flash: int = 0
    optimistic: int = 0   # zero wait, with execute_cycles' optimistic timings


@dataclass(frozen=True)
class BlockSummary:
    """A translation block's static part: instructions, cycles, and per 16-byte instruction
    line the cycles executed in it; the lines of its literal-pool reads."""

    instructions: int
    cycles: int
    optimistic: int
    lines: tuple[tuple[int, int], ...]
    literals: tuple[int, ...]
    branch: bool
    fallthrough: int
    addresses: tuple[int, ...] = ()   # of its instructions, in order (for a profile)
    each: tuple[int, ...] = ()        # their zero-wait cycles (execute_cycles), in order


def summarize(block: list[Instruction]) -> BlockSummary:
    lines: list[list[int]] = []
    literals, previous, total, optimistic, each = [], None, 0, 0, []
    for ins in block:
        c = execute_cycles(ins, previous)
        each.append(c)
        optimistic += execute_cycles(ins, previous, optimistic=True)
        line = ins.address // LINE
        if not lines or lines[-1][0] != line:
            lines.append([line, 0])
        lines[-1][1] += c
        if ins.literal:
            literals.append(_literal_address(ins) // LINE)
        total += c
        previous = ins
    last = block[-1] if block else None
    branch = last is not None and (last.op in _BRANCH or (last.op in _MULTIPLE and "pc" in last.operands))
    return BlockSummary(len(block), total, optimistic, tuple((a, b) for a, b in lines), tuple(literals),
                    branch, last.address + last.size if last else -1, tuple(i.address for i in block), tuple(each))


class _Timer:
    """Charges executed blocks to the current step, in both memory models."""

    def __init__(self) -> None:
        self.icache, self.dcache = _Lru(ICACHE_LINES), _Lru(DCACHE_LINES)
        self.last_line = _NO_LINE   # no line is sequential to this
        self.ready = 0   # cycles executed since the last line fetch (what the prefetch overlaps)

    def block(self, b: BlockSummary, following: int, step: StepCycles) -> None:
        stall = 0
        for line, cycles in b.lines:
            if line != self.last_line:
                if not self.icache.hit(line):
                    stall += max(0, WAIT + 1 - self.ready) if line == self.last_line + 1 else WAIT + 1
                self.last_line, self.ready = line, 0
            self.ready += cycles
        for line in b.literals:
            if not self.dcache.hit(line):
                stall += WAIT
        refill = REFILL if b.branch and following != b.fallthrough else 0
        if refill:
            self.last_line = _NO_LINE   # a taken branch restarts the fetch
        step.instructions += b.instructions
        step.optimistic += b.optimistic + refill
        step.zero_wait += b.cycles + refill
        step.flash += b.cycles + refill + stall


def _literal_address(ins: Instruction) -> int:
    m = re.search(r"#(-?0x[0-9a-f]+|-?\d+)", ins.operands)
    offset = int(m.group(1), 0) if m else 0
    return ((ins.address + 4) & ~3) + offset


def trace(elf: Path, target: Target, timeout: float = 900.0) -> Iterator[tuple[str, BlockSummary, int]]:
    """Run ``elf`` under QEMU with its execution log on a pipe: yields (function, block, address
    of the next block) for every executed translation block."""
    cmd = [*qemu_command(elf, target), "-d", "in_asm,exec,nochain"]
    blocks: dict[int, BlockSummary] = {}
    empty = summarize([])
    current: list[Instruction] | None = None
    pending: tuple[str, BlockSummary] | None = None
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          errors="replace") as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("0x") and current is not None:
                ins = parse_instruction(line)
                if ins is not None:
                    current.append(ins)
            elif line.startswith("IN:"):
                current = []
            elif line.startswith("Trace"):
                if current:
                    blocks[current[0].address] = summarize(current)
                current = None
                i = line.index("[")
                pc = int(line[i + 10:i + 18], 16)
                name = line[line.index("]") + 2:].strip()
                if pending is not None:
                    yield pending[0], pending[1], pc
                pending = (name, blocks.get(pc, empty))
        proc.wait(timeout)
    if pending is not None:
        yield pending[0], pending[1], -1


def step_cycles(elf: Path, target: Target, prefix: str,
                on_block: Callable[[int, BlockSummary], None] | None = None) -> list[StepCycles]:
    """Per real-time step (``PREFIX_mpc_feedback`` through ``PREFIX_mpc_prepare`` and back in
    the check program's ``main``), its instructions and estimated cycles in both models.
    Outside the steps the caches run on (the target's would), uncounted. ``on_block(i, block)``
    is called for every block executed in step ``i`` (``benchmarks/m4_profile.py``)."""
    timer, steps, outside = _Timer(), [], StepCycles()
    step: StepCycles | None = None
    prepared = False
    for name, block, following in trace(elf, target):
        if step is None and name.startswith(f"{prefix}_mpc_feedback"):
            step, prepared = StepCycles(), False
        elif step is not None and name.startswith(f"{prefix}_mpc_prepare"):
            prepared = True
        elif step is not None and prepared and name == "main":
            steps.append(step)
            step = None
        timer.block(block, following, step if step is not None else outside)
        if step is not None and on_block is not None:
            on_block(len(steps), block)
    return steps
