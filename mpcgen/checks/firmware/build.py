"""Firmware check, building: the strict builds of a generated folder and what they must not contain.

- ``find_sources``: a generated folder's firmware sources and the workload per step:
  the controller (``PREFIX_mpc_feedback`` then ``PREFIX_mpc_prepare``) when
  ``PREFIX_mpc.h`` is in the folder, the model's ``PREFIX_F_and_jacobians`` otherwise.
  Every ``.c`` of the folder is compiled except the complex-step twin (``*_cs.c``) and
  the integration example (``example_main.c``).
- ``host_check``: strict host builds (C99, every warning an error) with gcc and clang;
  the objects may reference no symbol but libm's; gcc's call graph (see
  :mod:`.callgraph`) has no cycle and gives a worst-case stack.
- ``cross_build``: arm-none-eabi-gcc for a Cortex-M4F (float) or Cortex-M7 (double)
  with mpcgen's own startup file and linker script (``templates/firmware/``) around a
  given check program; flash (.text+.rodata) and static RAM (.data+.bss) of the
  generated code and the libm functions it pulls in, from the linker map.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...codegen.build_files import OPTIMIZE_FLAGS, library_sources
from ...codegen.manifest import read_manifest
from ...codegen.render import environment
from ...errors import BuildError, FirmwareError
from .callgraph import CallGraph, parse_callgraph

#: The strict flag set every generated file must pass (float and double).
STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow",
                "-Wdouble-promotion", "-Werror")
#: Stack reserved by the check program's linker script.
STACK_SIZE = 64 * 1024

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
    spec: str                    # the model source the folder was generated from (manifest)
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
    step_bound: int | None = None   # PREFIX_MPC_BOUND_INSTRUCTIONS (a float controller's header)

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
    horizon = bound = None
    initial_guess = False
    if controller:
        text = mpc_header.read_text()
        found = re.search(rf"#define\s+{prefix.upper()}_MPC_N\s+(\d+)", text)
        horizon = int(found.group(1)) if found else None
        initial_guess = f"int {prefix}_mpc_set_initial_guess(" in text
        found = re.search(rf"#define\s+{prefix.upper()}_MPC_BOUND_INSTRUCTIONS\s+(\d+)", text)
        bound = int(found.group(1)) if found else None
    m = manifest["model"]

    def ranges(group: str) -> tuple[tuple[float, float, float], ...]:
        return tuple((v["lo"], v["hi"], v["nominal"]) for v in m[group])

    return Sources(folder, manifest["source"], prefix, m["name"], manifest["options"]["precision"], shipped["nx"],
                   shipped["nu"], shipped["np"], horizon, controller, initial_guess, c_files, ranges("states"),
                   ranges("inputs"), tuple(v["nominal"] for v in m["parameters"]), bound)



# ----------------------------------------------------------------------------- tools

def tool(name: str) -> str:
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


def run_tool(cmd: list[str], cwd: Path, what: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise BuildError(f"{what} failed: {first.strip()}")
    return proc.stdout



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
        run_tool([compiler, *flags, "-I", str(sources.folder), "-c", str(c), "-o", str(obj)], work,
             f"{Path(compiler).name} {' '.join(flags)} on {c.name}")
        objects.append(obj)
    return objects


def host_build(sources: Sources, compiler: str, work: Path) -> HostBuild:
    """One strict host build; gcc also writes the call graph and stack usage."""
    exe = tool(compiler)
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
    with workdir(work) as base:
        builds = tuple(host_build(sources, cc, base / f"host-{cc}") for cc in compilers)
    return HostCheck(sources, builds)


class workdir:
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


def cross_build(sources: Sources, program: str, work: Path, target: Target | None = None) -> CrossBuild:
    """Compile the folder strictly for ``target`` (default: by precision) and link it with the
    check program whose C text is ``program``."""
    target = target or TARGETS[sources.precision]
    gcc = tool("arm-none-eabi-gcc")
    work.mkdir(parents=True, exist_ok=True)
    env = environment()
    flags = (*target.cpu_flags, *STRICT_FLAGS, *OPTIMIZE_FLAGS, "-ffunction-sections", "-fdata-sections",
             "-fstack-usage", "-fcallgraph-info=su")
    objects = compile_objects(sources, gcc, flags, work / "lib")
    (work / "startup.c").write_text(env.get_template("firmware/startup.c.j2").render(target=target))
    (work / "link.ld").write_text(env.get_template("firmware/link.ld.j2").render(target=target,
                                                                              stack_size=STACK_SIZE))
    (work / "check_main.c").write_text(program)
    elf = work / "check.elf"
    run_tool([gcc, *target.cpu_flags, "-std=c99", *OPTIMIZE_FLAGS, "-DMPCGEN_TARGET", "-ffunction-sections",
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


def host_executable(sources: Sources, program: str, work: Path, defines: tuple[str, ...] = (),
                    objects: list[Path] | None = None) -> Path:
    """The check program ``program`` (C text) built for the host; ``objects``: the folder already
    compiled (same flags), else its sources."""
    work.mkdir(parents=True, exist_ok=True)
    main = work / "check_main.c"
    main.write_text(program)
    exe = work / "check"
    library = objects if objects else sources.c_files
    run_tool([tool("gcc"), "-std=c99", *OPTIMIZE_FLAGS, *defines, "-I", str(sources.folder), str(main),
          *map(str, library), "-o", str(exe), "-lm"], work, "host build of the check program")
    return exe
