"""Stage 7: firmware readiness of a generated folder, proven on an emulated Cortex-M.

Four checks, each a function returning a frozen dataclass (the CLI only formats):

- ``host_check``: strict host builds (C99, every warning an error) with gcc and clang;
  the objects may reference no symbol but libm's; gcc's call graph
  (``-fcallgraph-info=su``) has no cycle (no recursion) and gives, with
  ``-fstack-usage``, a worst-case stack along the call graph.
- ``cross_build``: arm-none-eabi-gcc for a Cortex-M4F (float) or Cortex-M7 (double)
  with mpcgen's own startup file, linker script and check program (templates in
  ``templates/firmware/``); flash (.text+.rodata) and static RAM (.data+.bss) of the
  generated code and the libm functions it pulls in, from the linker map.
- ``run_qemu`` / ``run_host``: the check program on ``qemu-system-arm`` (semihosting,
  ``-icount shift=0``: SysTick then counts instructions) and on the host; per step
  the status, instructions, stack used and outputs.
- ``firmware_check``: all of it for one folder, and the closed-loop comparison of the
  target's outputs with the host build of the same precision, within tolerances.

The per-step workload is the controller (``PREFIX_mpc_feedback`` then
``PREFIX_mpc_prepare``) when ``PREFIX_mpc.h`` is in the folder, the model's
``PREFIX_F_and_jacobians`` otherwise. Every ``.c`` of the folder is compiled except the
complex-step twin (``*_cs.c``) and the integration example (``example_main.c``).
"""

from __future__ import annotations

import re
import shutil
import statistics
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BuildError, FirmwareError
from .integration import OPTIMIZE_FLAGS, library_sources
from .manifest import read_manifest
from .qp import DEFAULT_TOL
from .render import environment

#: The strict flag set every generated file must pass (float and double).
STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow",
                "-Wdouble-promotion", "-Werror")
#: SysTick on QEMU's mps2 boards runs at 25 MHz; with -icount shift=0 a guest
#: instruction is 1 ns, so one tick is 40 instructions (checked by every run).
INSTRUCTIONS_PER_TICK = 40
#: Stack reserved by the check program's linker script.
STACK_SIZE = 64 * 1024
QEMU_TIMEOUT_S = 300.0

_MATH = ("acos asin atan atan2 cos sin tan acosh asinh atanh cosh sinh tanh exp exp2 expm1 log log10 "
         "log1p log2 logb cbrt fabs hypot pow sqrt erf erfc lgamma tgamma ceil floor nearbyint rint lrint "
         "round lround trunc fmod remainder copysign nan fdim fmax fmin fma frexp ldexp modf scalbn ilogb "
         "sincos").split()
#: Symbols a generated object may reference: C99 libm in double and float (and glibc's
#: sincos, which gcc fuses sin/cos pairs into), plus the block copies that compilers
#: emit for plain C loops and assignments even in freestanding code.
ALLOWED_SYMBOLS = frozenset([*_MATH, *(f + "f" for f in _MATH), "memcpy", "memset", "memmove"])


@dataclass(frozen=True)
class Target:
    """A Cortex-M core, its compiler flags and the QEMU board that emulates it."""

    name: str
    core: str
    machine: str
    precision: str
    cpu_flags: tuple[str, ...]


TARGETS = {
    "float": Target("m4", "Cortex-M4F", "mps2-an386", "float",
                    ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")),
    "double": Target("m7", "Cortex-M7", "mps2-an500", "double",
                     ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard")),
}


@dataclass(frozen=True)
class Sources:
    """What a generated folder holds for firmware: its C files and the workload per step."""

    folder: Path
    prefix: str
    model: str
    precision: str
    nx: int
    nu: int
    np: int
    horizon: int | None          # PREFIX_MPC_N when the controller is there
    controller: bool             # PREFIX_mpc.h present: the workload is the controller
    initial_guess: bool          # the controller has PREFIX_mpc_set_initial_guess(x0)
    c_files: tuple[Path, ...]
    state_ranges: tuple[tuple[float, float, float], ...]   # (lo, hi, nominal) per state
    input_ranges: tuple[tuple[float, float, float], ...]
    parameters: tuple[float, ...]                           # nominal values

    @property
    def entry_points(self) -> tuple[str, ...]:
        """The functions a firmware calls each step (roots of the stack analysis)."""
        if self.controller:
            return tuple(f"{self.prefix}_mpc_{n}" for n in ("init", "step", "feedback", "prepare"))
        return (f"{self.prefix}_F_and_jacobians",)

    @property
    def workload(self) -> str:
        return f"{self.prefix}_mpc_feedback + _prepare" if self.controller else f"{self.prefix}_F_and_jacobians"


def find_sources(folder: Path, model_only: bool = False) -> Sources:
    """The firmware sources of a generated folder (BuildError if it is not one).

    ``model_only``: the workload is the model's F_and_jacobians even if the controller is there.
    """
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    shipped = manifest["interfaces"]["shipped"]
    prefix = shipped["prefix"]
    c_files = tuple(folder / n for n in library_sources([p.name for p in folder.glob("*.c")]))
    if not (folder / f"{prefix}.c").is_file():
        raise BuildError(f"{folder}: missing {prefix}.c; regenerate the folder")
    mpc_header = folder / f"{prefix}_mpc.h"
    controller = mpc_header.is_file() and not model_only
    horizon = None
    initial_guess = False
    if controller:
        text = mpc_header.read_text()
        found = re.search(rf"#define\s+{prefix.upper()}_MPC_N\s+(\d+)", text)
        horizon = int(found.group(1)) if found else None
        initial_guess = f"int {prefix}_mpc_set_initial_guess(" in text
    m = manifest["model"]

    def ranges(group: str) -> tuple[tuple[float, float, float], ...]:
        return tuple((v["lo"], v["hi"], v["nominal"]) for v in m[group])

    return Sources(folder, prefix, m["name"], manifest["options"]["precision"], shipped["nx"], shipped["nu"],
                   shipped["np"], horizon, controller, initial_guess, c_files, ranges("states"), ranges("inputs"),
                   tuple(v["nominal"] for v in m["parameters"]))


# ----------------------------------------------------------------------------- tools

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FirmwareError(f"{name} not found; install it (Debian: make tools, or apt-get install "
                            f"{_PACKAGES.get(name, name)})")
    return path


_PACKAGES = {"arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
             "qemu-system-arm": "qemu-system-arm", "clang": "clang", "gcc": "gcc"}


def missing_tools(cross: bool = True) -> list[str]:
    """Tools the firmware checks need that are not on PATH."""
    names = ["gcc", "clang"] + (["arm-none-eabi-gcc", "qemu-system-arm"] if cross else [])
    return [n for n in names if shutil.which(n) is None]


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise BuildError(f"{what} failed: {first.strip()}")
    return proc.stdout


# ----------------------------------------------------------------------------- call graph

@dataclass(frozen=True)
class CallGraph:
    """gcc's call graph of some objects: own stack frame per function and call edges."""

    frames: dict[str, int]                 # function -> bytes of its own frame
    calls: dict[str, frozenset[str]]       # function -> functions it calls
    dynamic: frozenset[str]                # functions whose frame size is not static

    @property
    def external(self) -> frozenset[str]:
        """Callees without a frame here: library functions (their stack is not counted)."""
        called = set().union(*self.calls.values()) if self.calls else set()
        return frozenset(called - set(self.frames))

    def cycles(self) -> list[tuple[str, ...]]:
        """Every recursion found, as the call path that closes a cycle."""
        found: list[tuple[str, ...]] = []
        state: dict[str, int] = {}   # 1 on the current path, 2 done

        def visit(fn: str, path: tuple[str, ...]) -> None:
            state[fn] = 1
            for callee in sorted(self.calls.get(fn, ())):
                if state.get(callee) == 1:
                    found.append((*path[path.index(callee):], callee) if callee in path else (fn, callee))
                elif callee not in state:
                    visit(callee, (*path, callee))
            state[fn] = 2

        for fn in sorted(set(self.frames) | set(self.calls)):
            if fn not in state:
                visit(fn, (fn,))
        return found

    def worst_stack(self, root: str) -> int:
        """Deepest sum of frames along any call path from ``root`` (needs no cycles)."""
        memo: dict[str, int] = {}

        def depth(fn: str) -> int:
            if fn not in memo:
                memo[fn] = self.frames.get(fn, 0) + max((depth(c) for c in self.calls.get(fn, ())), default=0)
            return memo[fn]

        return depth(root)


_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?(?:\\n(\d+) bytes \((\w+)[^)]*\))?"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def parse_callgraph(ci_files: list[Path]) -> CallGraph:
    """Merge gcc ``-fcallgraph-info=su`` files (VCG text) into one call graph."""
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    for path in ci_files:
        text = path.read_text()
        for name, size, kind in _NODE.findall(text):
            if size:
                frames[name] = int(size)
                if kind != "static":
                    dynamic.add(name)
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst.removeprefix("__builtin_"))
    return CallGraph(frames, {k: frozenset(v) for k, v in calls.items()}, frozenset(dynamic))


def undefined_symbols(objects: list[Path], nm: str = "nm") -> frozenset[str]:
    """Symbols the objects reference but none of them defines."""
    defined: set[str] = set()
    undefined: set[str] = set()
    for obj in objects:
        for line in subprocess.run([nm, str(obj)], capture_output=True, text=True, check=True).stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                undefined.add(parts[1])
            elif len(parts) == 3 and parts[1] not in "Uu":
                defined.add(parts[2])
    return frozenset(undefined - defined)


# ----------------------------------------------------------------------------- host check

@dataclass(frozen=True)
class HostBuild:
    """A strict host build of a folder with one compiler."""

    compiler: str
    version: str
    flags: tuple[str, ...]
    undefined: frozenset[str]          # symbols referenced from outside the folder
    callgraph: CallGraph | None        # gcc only: as optimized (frame sizes for the stack)
    source_graph: CallGraph | None     # gcc only: at -O0, every call of the source (for recursion)

    @property
    def foreign(self) -> tuple[str, ...]:
        """Referenced symbols that are not libm's (malloc, printf, ...): must be empty."""
        return tuple(sorted(s for s in self.undefined if s not in ALLOWED_SYMBOLS))


@dataclass(frozen=True)
class HostCheck:
    """Strict builds with every compiler, the symbol, recursion and stack checks."""

    sources: Sources
    builds: tuple[HostBuild, ...]

    @property
    def recursion(self) -> tuple[tuple[str, ...], ...]:
        """Cycles of the call graph at -O0 (as written: the optimizer may turn a recursion
        into a loop in one build and not in another) and as optimized."""
        found = {c for b in self.builds for g in (b.source_graph, b.callgraph) if g for c in g.cycles()}
        return tuple(sorted(found))

    @property
    def foreign(self) -> tuple[str, ...]:
        return tuple(sorted({s for b in self.builds for s in b.foreign}))

    @property
    def stack(self) -> int:
        """Worst-case stack of the workload's entry points on the host (gcc), bytes."""
        graphs = [b.callgraph for b in self.builds if b.callgraph]
        return max((g.worst_stack(e) for g in graphs for e in self.sources.entry_points if e in g.frames), default=0)

    @property
    def passed(self) -> bool:
        return not self.foreign and not self.recursion

    def problems(self) -> list[str]:
        out = []
        if self.foreign:
            out.append(f"references non-libm symbols: {', '.join(self.foreign)}")
        for cycle in self.recursion:
            out.append(f"recursion: {' -> '.join(cycle)}")
        return out


def compile_objects(sources: Sources, compiler: str, flags: tuple[str, ...], work: Path) -> list[Path]:
    """Compile every firmware .c of the folder into ``work`` (BuildError on any warning)."""
    work.mkdir(parents=True, exist_ok=True)
    objects = []
    for c in sources.c_files:
        obj = work / (c.stem + ".o")
        _run([compiler, *flags, "-I", str(sources.folder), "-c", str(c), "-o", str(obj)], work,
             f"{Path(compiler).name} {' '.join(flags)} on {c.name}")
        objects.append(obj)
    return objects


def host_build(sources: Sources, compiler: str, work: Path) -> HostBuild:
    """One strict host build; gcc also writes the call graph and stack usage."""
    exe = _tool(compiler)
    gcc = Path(compiler).name.startswith("gcc")
    flags = (*STRICT_FLAGS, *OPTIMIZE_FLAGS, *(("-fstack-usage", "-fcallgraph-info=su") if gcc else ()))
    objects = compile_objects(sources, exe, flags, work)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    graph = source_graph = None
    if gcc:
        graph = parse_callgraph(sorted(work.glob("*.ci")))
        compile_objects(sources, exe, ("-std=c99", "-O0", "-fcallgraph-info"), work / "O0")
        source_graph = parse_callgraph(sorted((work / "O0").glob("*.ci")))
    return HostBuild(Path(compiler).name, version, flags, undefined_symbols(objects), graph, source_graph)


def host_check(folder: Path, compilers: tuple[str, ...] = ("gcc", "clang"), work: Path | None = None,
               model_only: bool = False) -> HostCheck:
    """Strict builds of ``folder`` with each compiler and the symbol/recursion/stack checks."""
    sources = find_sources(folder, model_only)
    with _workdir(work) as base:
        builds = tuple(host_build(sources, cc, base / f"host-{cc}") for cc in compilers)
    return HostCheck(sources, builds)


class _workdir:
    """A given folder, or a temporary one removed afterwards."""

    def __init__(self, given: Path | None) -> None:
        self.given = Path(given) if given is not None else None
        self.tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Path:
        if self.given is not None:
            self.given.mkdir(parents=True, exist_ok=True)
            return self.given
        self.tmp = tempfile.TemporaryDirectory(prefix="mpcgen-firmware-")
        return Path(self.tmp.name)

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()


# ----------------------------------------------------------------------------- check program

def _literal(value: float, precision: str) -> str:
    """An exact C99 hexadecimal floating constant."""
    if precision == "float":
        return float(np.float32(value)).hex() + "f"
    return float(value).hex()


def check_program(sources: Sources, inputs: np.ndarray) -> str:
    """The text of the check program (host and target) replaying ``inputs`` (steps x n_in)."""
    return environment().get_template("firmware/check_main.c.j2").render(
        prefix=sources.prefix, controller=sources.controller, initial_guess=sources.initial_guess,
        workload_name=sources.workload,
        steps=inputs.shape[0], n_in=inputs.shape[1], double=sources.precision == "double",
        inputs=[[_literal(v, sources.precision) for v in row] for row in inputs],
        params=[_literal(v, sources.precision) for v in sources.parameters])


def recorded_inputs(sources: Sources, steps: int, seed: int = 0, work: Path | None = None,
                    objects: list[Path] | None = None) -> np.ndarray:
    """The inputs the check replays, one row per step.

    Model workload: points (x, u) drawn uniformly from the declared ranges. Controller:
    the states of a closed loop x+ = F(x, u0) run with the host build from an initial
    state near the nominal one (so the controller has work to do and warm starts).
    """
    rng = np.random.default_rng(seed)
    dtype = np.float32 if sources.precision == "float" else np.float64
    xs = np.array(sources.state_ranges, dtype=float).reshape(-1, 3)
    if not sources.controller:
        us = np.array(sources.input_ranges, dtype=float).reshape(-1, 3)
        lo, hi = np.concatenate([xs[:, 0], us[:, 0]]), np.concatenate([xs[:, 1], us[:, 1]])
        return rng.uniform(lo, hi, size=(steps, lo.size)).astype(dtype)
    width = xs[:, 1] - xs[:, 0]
    x_init = np.clip(xs[:, 2] + 0.1 * width * rng.uniform(-1, 1, size=width.size), xs[:, 0], xs[:, 1])
    table = np.zeros((steps, sources.nx))
    table[0] = x_init
    with _workdir(work) as base:
        exe = _host_executable(sources, table.astype(dtype), base / "record", ("-DMPCGEN_RECORD",), objects)
        out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=QEMU_TIMEOUT_S).stdout
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("record ")]
    states = np.array([[_unbits(w, sources.precision) for w in r[3:]] for r in rows], dtype=dtype)
    if len(states) < steps:
        raise FirmwareError(f"{sources.model}: the recorded closed loop stopped after {len(states)} of {steps} "
                            f"steps (the plant or controller returned a non-zero status)")
    return states


def _unbits(word: str, precision: str) -> float:
    if precision == "float":
        return struct.unpack("<f", struct.pack("<I", int(word, 16)))[0]
    return struct.unpack("<d", struct.pack("<Q", int(word, 16)))[0]


def _host_executable(sources: Sources, inputs: np.ndarray, work: Path, defines: tuple[str, ...] = (),
                     objects: list[Path] | None = None) -> Path:
    """The check program for the host; ``objects``: the folder already compiled (same flags)."""
    work.mkdir(parents=True, exist_ok=True)
    main = work / "check_main.c"
    main.write_text(check_program(sources, inputs))
    exe = work / "check"
    library = objects if objects else sources.c_files
    _run([_tool("gcc"), "-std=c99", *OPTIMIZE_FLAGS, *defines, "-I", str(sources.folder), str(main),
          *map(str, library), "-o", str(exe), "-lm"], work, "host build of the check program")
    return exe


# ----------------------------------------------------------------------------- cross build

@dataclass(frozen=True)
class CrossBuild:
    """The check program linked for a Cortex-M, and what the generated code costs there."""

    target: Target
    elf: Path
    flash: int          # .text + .rodata of the generated code and the libm members it uses, bytes
    ram: int            # .data + .bss of the same, bytes
    callgraph: CallGraph
    undefined: frozenset[str]
    entry_points: tuple[str, ...]

    @property
    def stack(self) -> int:
        """Worst-case stack of the workload along the call graph, bytes (libm not counted)."""
        return max((self.callgraph.worst_stack(e) for e in self.entry_points if e in self.callgraph.frames),
                   default=0)

    @property
    def foreign(self) -> tuple[str, ...]:
        """Non-libm symbols referenced (the ARM EABI's compiler helpers __aeabi_* aside)."""
        return tuple(sorted(s for s in self.undefined
                            if s not in ALLOWED_SYMBOLS and not s.startswith("__aeabi_")))


def cross_build(sources: Sources, inputs: np.ndarray, work: Path, target: Target | None = None) -> CrossBuild:
    """Compile the folder strictly for ``target`` (default: by precision), link the check program."""
    target = target or TARGETS[sources.precision]
    gcc = _tool("arm-none-eabi-gcc")
    work.mkdir(parents=True, exist_ok=True)
    env = environment()
    flags = (*target.cpu_flags, *STRICT_FLAGS, *OPTIMIZE_FLAGS, "-ffunction-sections", "-fdata-sections",
             "-fstack-usage", "-fcallgraph-info=su")
    objects = compile_objects(sources, gcc, flags, work / "lib")
    (work / "startup.c").write_text(env.get_template("firmware/startup.c.j2").render(target=target))
    (work / "link.ld").write_text(env.get_template("firmware/link.ld.j2").render(target=target,
                                                                              stack_size=STACK_SIZE))
    (work / "check_main.c").write_text(check_program(sources, inputs))
    elf = work / "check.elf"
    _run([gcc, *target.cpu_flags, "-std=c99", *OPTIMIZE_FLAGS, "-DMPCGEN_TARGET", "-ffunction-sections",
          "-fdata-sections", "-I", str(sources.folder), "startup.c", "check_main.c", *map(str, objects),
          "-nostartfiles", "--specs=nano.specs", "--specs=rdimon.specs", "-T", "link.ld",
          "-Wl,--gc-sections", f"-Wl,-Map={work / 'check.map'}", "-o", str(elf), "-lm"],
         work, f"linking the {target.core} check program")
    flash, ram = _code_size(work / "check.map", objects)
    nm = str(Path(gcc).with_name("arm-none-eabi-nm"))
    return CrossBuild(target, elf, flash, ram, parse_callgraph(sorted((work / "lib").glob("*.ci"))),
                      undefined_symbols(objects, nm), sources.entry_points)


_MAP_LINE = re.compile(r"^ (\.\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$")


def _code_size(map_file: Path, objects: list[Path]) -> tuple[int, int]:
    """(flash, RAM) of the input sections that come from ``objects`` or libm, from a GNU ld map."""
    own = {str(o) for o in objects}
    flash = ram = 0
    section = None
    in_memory_map = False
    for line in map_file.read_text().splitlines():
        if line.startswith("Linker script and memory map"):
            in_memory_map = True
            continue
        if not in_memory_map:
            continue
        if line.startswith(" .") and len(line.split()) == 1:
            section = line.split()[0]        # long section name: address, size, file on the next line
            continue
        m = _MAP_LINE.match(line)
        if not m:
            section = None
            continue
        name = m.group(1) or section
        section = None
        size, origin = int(m.group(3), 16), m.group(4)
        if name is None or size == 0 or not (origin in own or re.search(r"/libm\.a\(", origin)):
            continue
        if name.startswith((".text", ".rodata")):
            flash += size
        elif name.startswith((".data", ".bss")):
            ram += size
    return flash, ram


# ----------------------------------------------------------------------------- runs

@dataclass(frozen=True)
class Run:
    """One run of the check program: per step status, instructions, stack and outputs."""

    status: tuple[int, ...]
    instructions: tuple[int, ...]           # per step (target only; 0 on the host)
    feedback_instructions: tuple[int, ...]  # controller: the feedback part alone
    stack: tuple[int, ...]                  # bytes used below the caller's sp (target only)
    outputs: np.ndarray                     # steps x outputs
    instructions_per_tick: float            # measured on a loop of known length (target only)


def _parse_run(text: str, precision: str, target: bool) -> Run:
    status, instr, fb, stack, outputs = [], [], [], [], []
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
    if init is None or "done" not in text:
        where = "the target" if target else "the host"
        raise FirmwareError(f"the check program did not finish on {where}; last output: "
                            f"{text.strip().splitlines()[-1:] or '(none)'}")
    if init != 0:
        raise FirmwareError(f"initialization returned status {init}")
    return Run(tuple(status), tuple(instr), tuple(fb), tuple(stack), np.array(outputs, dtype=float), per_tick)


def run_qemu(elf: Path, target: Target, precision: str, timeout: float = QEMU_TIMEOUT_S) -> Run:
    """Run a check program on QEMU with semihosting and instruction counting."""
    cmd = [_tool("qemu-system-arm"), "-M", target.machine, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FirmwareError(f"{elf.name} on {target.machine}: no exit after {timeout:.0f} s (hang or fault loop)") \
            from None
    if proc.returncode != 0:
        raise FirmwareError(f"{elf.name} on {target.machine}: exit status {proc.returncode} (a fault?); "
                            f"{proc.stderr.strip()[:200]}")
    return _parse_run(proc.stdout, precision, target=True)


def run_host(sources: Sources, inputs: np.ndarray, work: Path, objects: list[Path] | None = None) -> Run:
    """Build the check program with the host gcc and run it: the reference outputs."""
    exe = _host_executable(sources, inputs, work, objects=objects)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=QEMU_TIMEOUT_S)
    return _parse_run(proc.stdout, sources.precision, target=False)


# ----------------------------------------------------------------------------- the whole check

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
    steps: int
    max_error: float             # target vs host outputs, scaled (see compare_runs)
    tolerance: float
    host: HostCheck
    foreign: tuple[str, ...]     # non-libm symbols referenced by the cross objects
    recursion: tuple[tuple[str, ...], ...]   # cycles of the cross build's call graph
    status_mismatch: str         # first step whose status differs between target and host, or ""
    model_only: bool             # the model's functions measured although a controller is there

    @property
    def min_mhz(self) -> float:
        """Clock for 1 kHz at one instruction per cycle: max instructions per step / 1 ms."""
        return self.instructions_max / 1e3

    @property
    def passed(self) -> bool:
        return self.host.passed and not self.foreign and not self.recursion and self.max_error <= self.tolerance

    def problems(self) -> list[str]:
        out = self.host.problems()
        if self.foreign:
            out.append(f"{self.target.core} objects reference non-libm symbols: {', '.join(self.foreign)}")
        for cycle in self.recursion:
            out.append(f"{self.target.core} recursion: {' -> '.join(cycle)}")
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


def status_mismatch(target: Run, host: Run) -> str:
    """The first step whose status differs between target and host ("" if none)."""
    for k, (a, b) in enumerate(zip(target.status, host.status)):
        if a != b:
            return f"step {k}: status {a} on the target, {b} on the host"
    return ""


def compare_runs(target: Run, host: Run, sources: Sources) -> float:
    """Largest scaled difference of the outputs, steps and entries alike.

    Model outputs are scaled per entry by |host| + the entry's largest |host| over all
    steps; controller inputs u0 by the width of the input's range.
    """
    if target.outputs.shape != host.outputs.shape:
        raise FirmwareError(f"target and host printed different outputs: {target.outputs.shape} vs "
                            f"{host.outputs.shape}")
    diff = np.abs(target.outputs - host.outputs)
    if sources.controller:
        widths = np.array([hi - lo for lo, hi, _ in sources.input_ranges])
        scale = np.broadcast_to(widths, diff.shape)
    else:
        scale = np.abs(host.outputs) + np.max(np.abs(host.outputs), axis=0)
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
    with _workdir(work) as base:
        host = host_check(sources.folder, compilers, base, model_only)
        objects = sorted((base / "host-gcc").glob("*.o")) if "gcc" in compilers else None
        inputs = recorded_inputs(sources, steps, seed, base, objects)
        cross = cross_build(sources, inputs, base / target.name, target)
        on_target = run_qemu(cross.elf, target, sources.precision)
        on_host = run_host(sources, inputs, base / "host-run", objects)
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
        steps=steps, max_error=error, tolerance=tolerance(sources.precision, sources.controller),
        host=host, foreign=cross.foreign, recursion=tuple(cross.callgraph.cycles()),
        status_mismatch=status_mismatch(on_target, on_host),
        model_only=model_only and find_sources(folder).controller)


def budget_table(budgets: list[Budget]) -> str:
    """The budget table: one row per folder."""
    head = (f"{'model':<10} {'workload':<8} {'N':>3} {'precision':<9} {'target':<10} {'flash B':>8} {'RAM B':>6} {'stack B':>7} "
            f"{'stack hw':>8} {'instr/step med':>14} {'max':>8} {'feedback max':>12} {'MHz@1kHz':>9} {'vs host':>8}  check")
    rows = [head, "-" * len(head)]
    for b in budgets:
        rows.append(f"{b.model:<10} {'mpc' if b.horizon is not None or b.feedback_max is not None else 'model':<8} "
                    f"{b.horizon if b.horizon is not None else '-':>3} {b.precision:<9} "
                    f"{b.target.core:<10} {b.flash:>8} {b.ram:>6} {b.stack:>7} {b.stack_measured:>8} "
                    f"{b.instructions_median:>14} {b.instructions_max:>8} "
                    f"{b.feedback_max if b.feedback_max is not None else '-':>12} {b.min_mhz:>9.1f} "
                    f"{b.max_error:>8.1e}  "
                    f"{'ok' if b.passed else 'FAILED'}")
    rows += [
        "flash = .text+.rodata, RAM = .data+.bss of the generated code and the libm functions it uses",
        "  (the check program, startup file and newlib's stdio not counted)",
        "stack = worst case along gcc's call graph (libm not counted); stack hw = high-water mark measured in QEMU",
        "instr/step: controller feedback + prepare (feedback alone is the latency), or the model's F_and_jacobians;",
        f"  counted by SysTick under QEMU -icount shift=0 (resolution {INSTRUCTIONS_PER_TICK} instructions)",
        "MHz@1kHz = max instructions per step / 1 ms at one instruction per cycle (real cores need more:",
        "  FPU latencies, flash wait states)",
        "vs host = largest difference of the target's outputs from the host build's; the check allows, for",
        "  the controller's u0 over its input range, sqrt of the QP tolerance (1e-2 float, 1e-4 double),",
        "  for the model's outputs (relative) 1e3 eps",
    ]
    return "\n".join(rows)
