"""Firmware check, the run: the check program on QEMU (and on the host, the reference).

The check program (``templates/firmware/check_main.c.j2``) replays recorded inputs
through the workload, step by step, and prints per step the status, the SysTick
ticks of feedback and prepare, the stack used and the outputs as bit patterns. On
``qemu-system-arm`` with ``-icount shift=0`` a guest instruction takes 1 ns, so SysTick
counts instructions (each run checks the ratio on a loop of known length first).
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...codegen.render import environment
from ...errors import FirmwareError
from .build import Sources, Target, host_executable, tool, workdir
from .workload import Segment, controller_segments, first_steps

#: SysTick on QEMU's mps2 boards runs at 25 MHz; with -icount shift=0 a guest
#: instruction is 1 ns, so one tick is 40 instructions (checked by every run).
INSTRUCTIONS_PER_TICK = 40
QEMU_TIMEOUT_S = 300.0


def _literal(value: float, precision: str) -> str:
    """An exact C99 hexadecimal floating constant."""
    if precision == "float":
        return float(np.float32(value)).hex() + "f"
    return float(value).hex()


def check_program(sources: Sources, inputs: np.ndarray, segments: tuple[Segment, ...] = ()) -> str:
    """The text of the check program (host and target) replaying ``inputs`` (steps x n_in);
    a controller's run is in ``segments`` (:mod:`.workload`)."""
    firsts = first_steps(segments) if segments else []
    zero = [_literal(0.0, sources.precision)] * sources.nx
    rows = [{"first": f, "jump": int(g.start is not None) + int(g.restart), "set_ref": int(g.x_ref is not None),
             "state": [_literal(v, sources.precision) for v in g.start] if g.start is not None else zero,
             "ref": [_literal(v, sources.precision) for v in g.x_ref] if g.x_ref is not None else zero}
            for f, g in zip(firsts, segments)]
    return environment().get_template("firmware/check_main.c.j2").render(
        prefix=sources.prefix, controller=sources.controller, initial_guess=sources.initial_guess,
        workload_name=sources.workload, segments=rows, compare_steps=segments[0].steps if segments else 0,
        steps=inputs.shape[0], n_in=inputs.shape[1], double=sources.precision == "double",
        inputs=[[_literal(v, sources.precision) for v in row] for row in inputs],
        params=[_literal(v, sources.precision) for v in sources.parameters])


def controller_run(sources: Sources, seed: int = 0) -> tuple[Segment, ...]:
    """The segments a controller is counted on (:func:`.workload.controller_segments`)."""
    return controller_segments(sources.spec, sources.state_ranges, seed)


def recorded_inputs(sources: Sources, steps: int, seed: int = 0, work: Path | None = None,
                    objects: list[Path] | None = None, segments: tuple[Segment, ...] = ()) -> np.ndarray:
    """The inputs the check replays, one row per step.

    Model workload: ``steps`` points (x, u) drawn uniformly from the declared ranges.
    Controller: the states of the closed loop x+ = F(x, u0) over ``segments``, run with
    the host build (so the controller has work to do and warm starts).
    """
    rng = np.random.default_rng(seed)
    dtype = np.float32 if sources.precision == "float" else np.float64
    xs = np.array(sources.state_ranges, dtype=float).reshape(-1, 3)
    if not sources.controller:
        us = np.array(sources.input_ranges, dtype=float).reshape(-1, 3)
        lo, hi = np.concatenate([xs[:, 0], us[:, 0]]), np.concatenate([xs[:, 1], us[:, 1]])
        return rng.uniform(lo, hi, size=(steps, lo.size)).astype(dtype)
    total = sum(g.steps for g in segments)
    table = np.zeros((total, sources.nx))
    with workdir(work) as base:
        exe = host_executable(sources, check_program(sources, table.astype(dtype), segments), base / "record",
                              ("-DMPCGEN_RECORD",), objects)
        out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=QEMU_TIMEOUT_S).stdout
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("record ")]
    states = np.array([[_unbits(w, sources.precision) for w in r[3:]] for r in rows], dtype=dtype)
    if len(states) < total:
        raise FirmwareError(f"{sources.model}: the recorded closed loop stopped after {len(states)} of {total} "
                            f"steps (the plant or controller returned a non-zero status)")
    return states


def _unbits(word: str, precision: str) -> float:
    if precision == "float":
        return struct.unpack("<f", struct.pack("<I", int(word, 16)))[0]
    return struct.unpack("<d", struct.pack("<Q", int(word, 16)))[0]


@dataclass(frozen=True)
class Run:
    """One run of the check program: per step status, instructions, stack and outputs."""

    status: tuple[int, ...]
    instructions: tuple[int, ...]           # per step (target only; 0 on the host)
    feedback_instructions: tuple[int, ...]  # controller: the feedback part alone
    stack: tuple[int, ...]                  # bytes used below the caller's sp (target only)
    outputs: np.ndarray                     # steps x outputs
    instructions_per_tick: float            # measured on a loop of known length (target only)
    compared: np.ndarray                    # controller: u0 of the converged solves (steps x nu)
    compared_status: tuple[int, ...]


def _parse_run(text: str, precision: str, target: bool) -> Run:
    status, instr, fb, stack, outputs, compared, compared_status = [], [], [], [], [], [], []
    per_tick = float(INSTRUCTIONS_PER_TICK)
    init = None
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "calibrate":
            per_tick = int(words[1]) / max(int(words[2]), 1)
        elif words[0] == "init":
            init = int(words[1])
        elif words[0] == "step":
            s, t1, t2, used = (int(w) for w in words[2:6])
            status.append(s)
            fb.append(t1 * INSTRUCTIONS_PER_TICK)
            instr.append((t1 + t2) * INSTRUCTIONS_PER_TICK)
            stack.append(used)
            outputs.append([_unbits(w, precision) for w in words[6:]])
        elif words[0] == "solve":
            compared_status.append(int(words[2]))
            compared.append([_unbits(w, precision) for w in words[3:]])
    if init is None or "done" not in text:
        where = "the target" if target else "the host"
        raise FirmwareError(f"the check program did not finish on {where}; last output: "
                            f"{text.strip().splitlines()[-1:] or '(none)'}")
    if init != 0:
        raise FirmwareError(f"initialization returned status {init}")
    return Run(tuple(status), tuple(instr), tuple(fb), tuple(stack), np.array(outputs, dtype=float), per_tick,
               np.array(compared, dtype=float), tuple(compared_status))


def qemu_command(elf: Path, target: Target) -> list[str]:
    """QEMU running ``elf`` on the target's board: semihosting, one instruction per nanosecond."""
    return [tool("qemu-system-arm"), "-M", target.machine, "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]


def run_qemu(elf: Path, target: Target, precision: str, timeout: float = QEMU_TIMEOUT_S) -> Run:
    """Run a check program on QEMU with semihosting and instruction counting."""
    cmd = qemu_command(elf, target)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareError(f"{elf.name} on {target.machine}: no exit after {timeout:.0f} s (hang or fault loop)") \
            from None
    if proc.returncode != 0:
        raise FirmwareError(f"{elf.name} on {target.machine}: exit status {proc.returncode} (a fault?); "
                            f"{proc.stderr.strip()[:200]}")
    return _parse_run(proc.stdout, precision, target=True)


def run_host(sources: Sources, inputs: np.ndarray, work: Path, objects: list[Path] | None = None,
             segments: tuple[Segment, ...] = ()) -> Run:
    """Build the check program with the host gcc and run it: the reference outputs."""
    exe = host_executable(sources, check_program(sources, inputs, segments), work, objects=objects)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=QEMU_TIMEOUT_S)
    return _parse_run(proc.stdout, sources.precision, target=False)
