"""Reliability of a generated controller under bad input: fuzzing, sanitizers, valgrind.

- ``build_fuzzer``: renders ``templates/fuzz_main.c.j2`` for a folder (its sizes, the
  OCP's input bounds, the model's ranges) and compiles it with the folder's model, QP
  and controller sources with clang, libFuzzer and AddressSanitizer +
  UndefinedBehaviorSanitizer (every report fatal), into the cache, never the folder.
- ``fuzz``: runs it for a time or a number of inputs and returns a :class:`FuzzResult`
  (inputs executed, coverage, and on a failure the reproducer file and the report).
- ``replay``: runs inputs (a corpus, a crash file) through the harness built without
  libFuzzer, optionally printing every API call: the reproducer in C terms.
- ``memcheck``: valgrind memcheck over a closed loop (the scenario's recorded states
  replayed through feedback and prepare by a small C driver) and over fuzz inputs.

The harness decodes each input into a sequence of API calls with values drawn from
the model's ranges, outside them, special values (NaN, Inf, huge, denormal) or raw bit
patterns, and aborts when a promise of the header is broken (see the template).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen.manifest import read_manifest
from ..codegen.mpc_program import ControllerInterface
from ..codegen.render import environment
from ..compiled.build import cache_dir
from ..errors import BuildError, MpcgenError

CLANG = os.environ.get("MPCGEN_CLANG", "clang")
#: Sanitizers with every report fatal: the first finding stops the run with a reproducer.
#: UBSan's alignment and pointer-overflow checks are left out: on the QP's fully
#: unrolled fixed-size loops they multiply clang's compile time by ten (50 s for the
#: chain), and they cannot fire here (every pointer is into a typed array; an access
#: out of its object is AddressSanitizer's finding).
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize=alignment,pointer-overflow", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer")
#: -O1 keeps the sanitized code fast and the stack traces readable; -std=c99 as shipped.
FUZZ_FLAGS = ("-std=c99", "-g", "-O1", "-fno-math-errno")
MAX_LEN = 1024
#: Per-input time limit (s): one input is at most 48 calls, each one bounded QP solve.
INPUT_TIMEOUT_S = 20

_SPECIALS = {
    "double": {"huge": "1e300", "max": "DBL_MAX", "denormal": "4.9406564584124654e-324", "tiny": "1e-310",
               "huge_sqrt": "1.4e154"},
    "float": {"huge": "1e38f", "max": "FLT_MAX", "denormal": "1.40129846e-45f", "tiny": "1e-40f",
              "huge_sqrt": "1.8e19f"},
}


@dataclass(frozen=True)
class FuzzResult:
    """One fuzzing run of one controller."""

    prefix: str
    precision: str
    runs: int              # inputs executed
    seconds: float         # wall time of the run
    coverage: int          # libFuzzer's "cov": code edges reached
    corpus: int            # inputs kept for new coverage
    crash: Path | None     # the failing input, if any
    report: str            # the sanitizer or invariant report of the failure ("" if none)

    @property
    def passed(self) -> bool:
        return self.crash is None and not self.report

    def line(self) -> str:
        verdict = "no failure" if self.passed else f"FAILED: {self.report.splitlines()[0] if self.report else ''}"
        return (f"{self.prefix:<10} {self.precision:<6} {self.runs:>9} inputs {self.seconds:>7.1f} s  "
                f"cov {self.coverage:>5}  corpus {self.corpus:>5}  {verdict}")


@dataclass(frozen=True)
class MemcheckResult:
    """valgrind memcheck over a closed loop and fuzz inputs."""

    prefix: str
    steps: int
    inputs: int
    errors: int            # memcheck's ERROR SUMMARY count
    definitely_lost: int   # bytes
    log: str

    @property
    def passed(self) -> bool:
        return self.errors == 0 and self.definitely_lost == 0

    def line(self) -> str:
        return (f"{self.prefix:<10} valgrind memcheck: {self.steps} closed-loop steps, {self.inputs} fuzz inputs: "
                f"{self.errors} errors, {self.definitely_lost} bytes definitely lost")


def _literal(v: float) -> str:
    if math.isinf(v):
        return "HUGE_VAL" if v > 0 else "-HUGE_VAL"
    return repr(float(v))


def _as_scalar(v: float, c_type: str) -> float:
    """``v`` as the controller's scalar holds it (a float build's bound 0.3 is 0.30000001)."""
    return float(np.float32(v)) if c_type == "float" else float(v)


def _controller(folder: Path) -> tuple[dict, ControllerInterface]:
    manifest = read_manifest(folder)
    data = manifest["interfaces"].get("controller")
    if data is None:
        raise BuildError(f"{folder}: has no controller to fuzz (the model came without an OCP)")
    return manifest, ControllerInterface.from_json(data)


def input_bounds(manifest: dict) -> tuple[list[float], list[float]]:
    """The OCP's input bounds u_lo, u_hi of a folder, from the model and OCP it was made from."""
    u_lo, u_hi, _, _ = ocp_bounds(manifest)
    return u_lo, u_hi


def ocp_bounds(manifest: dict) -> tuple[list[float], list[float], list[float], list[float]]:
    """The OCP's bounds u_lo, u_hi, x_lo, x_hi of a folder, from the model and OCP it was made from."""
    from ..codegen.manifest import options_of
    from ..derivatives.discretize import discrete_model
    from ..problem.ocp import check_ocp
    from ..problem.source import load_source

    source = load_source(manifest["source"])
    if source.ocp is None:
        raise BuildError(f"{manifest['source']}: has no OCP, so the folder's input bounds are unknown")
    ocp = check_ocp(source.model, source.ocp(source.model), discrete_model(source.model, options_of(manifest)))
    return tuple([float(v) for v in b] for b in (ocp.u_lo, ocp.u_hi, ocp.x_lo, ocp.x_hi))


def harness_source(folder: str | Path) -> str:
    """The fuzz harness C of a generated folder."""
    folder = Path(folder)
    manifest, c = _controller(folder)
    model = manifest["model"]
    u_lo, u_hi, x_lo, x_hi = ocp_bounds(manifest)
    ranges = {kind: ([_literal(v["lo"]) for v in model[kind]] or ["0.0"], [_literal(v["hi"]) for v in model[kind]]
                     or ["0.0"]) for kind in ("states", "inputs", "parameters")}
    return environment().get_template("fuzz_main.c.j2").render(
        prefix=c.prefix, PREFIX=c.prefix.upper(), c_type=c.c_type, nx=c.nx, nu=c.nu, np=c.np, ny=c.ny, N=c.N,
        u_lo=[_literal(_as_scalar(v, c.c_type)) for v in u_lo], u_hi=[_literal(_as_scalar(v, c.c_type)) for v in u_hi],
        x_lo=ranges["states"][0], x_hi=ranges["states"][1], p_lo=ranges["parameters"][0],
        p_hi=ranges["parameters"][1], in_lo=ranges["inputs"][0], in_hi=ranges["inputs"][1],
        magnitude_max=_literal(c.magnitude_max), runtime_bounds=c.runtime_bounds,
        x_has_lo=[int(math.isfinite(v)) for v in x_lo], x_has_hi=[int(math.isfinite(v)) for v in x_hi],
        **_SPECIALS[manifest["options"]["precision"]])


def _sources(folder: Path, c: ControllerInterface) -> list[Path]:
    names = list(c.c_sources)
    missing = [n for n in names + [f"{c.prefix}_mpc.h"] if not (folder / n).is_file()]
    if missing:
        raise BuildError(f"{folder}: missing {', '.join(missing)}; regenerate the folder")
    return [folder / n for n in names]


def build_fuzzer(folder: str | Path, standalone: bool = False) -> Path:
    """Compile the harness (libFuzzer, or a file-replaying main for valgrind) into the cache.

    The fuzzer build uses clang with ASan + UBSan; the standalone build is plain
    (valgrind and ASan do not mix) with the compiler in ``$CC`` (default gcc).
    """
    folder = Path(folder).resolve()
    manifest, c = _controller(folder)
    sources = _sources(folder, c)
    harness = harness_source(folder)
    if standalone:
        cc = os.environ.get("CC", "gcc")
        flags: tuple[str, ...] = (*FUZZ_FLAGS, "-DMPCGEN_FUZZ_STANDALONE")
    else:
        cc = CLANG
        flags = (*FUZZ_FLAGS, "-fsanitize=fuzzer", *SANITIZE)
    if shutil.which(cc) is None:
        raise BuildError(f"{cc} not found; install it (make tools) to build the fuzz harness")
    h = hashlib.sha256()
    for part in (harness, *(p.read_text() for p in sources), (folder / f"{c.prefix}_mpc.h").read_text(),
                 (folder / f"{c.prefix}_qp.h").read_text(), (folder / f"{c.prefix}.h").read_text(), cc, flags):
        h.update(repr(part).encode())
    target = cache_dir() / "fuzz" / f"{c.prefix}-{'replay' if standalone else 'fuzz'}-{h.hexdigest()[:16]}"
    exe = target / f"{c.prefix}_fuzz"
    if exe.is_file():
        return exe
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        main = work / f"{c.prefix}_fuzz_main.c"
        main.write_text(harness)
        run = subprocess.run([cc, *flags, "-I", str(folder), str(main), *map(str, sources), "-o",
                              str(work / exe.name), "-lm"], capture_output=True, text=True)
        if run.returncode != 0:
            first = next((ln for ln in run.stderr.splitlines() if "error" in ln), run.stderr.strip()[:300])
            if "fuzzer" in run.stderr and not standalone:
                raise BuildError(f"{cc} -fsanitize=fuzzer failed (is libFuzzer's runtime installed? make tools "
                                 f"installs it): {first}")
            raise BuildError(f"compiling the fuzz harness for {folder} failed: {first}")
        try:
            os.replace(work, target)
        except OSError:  # another process built it first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return exe


_FAILURE = re.compile(r"(mpcgen-fuzz: .*|SUMMARY: .*|ERROR: AddressSanitizer.*|.*runtime error: .*|"
                      r"==\d+== ERROR: libFuzzer: .*)")


def fuzz(folder: str | Path, seconds: float | None = 10.0, runs: int | None = None, seed: int = 1,
         corpus: str | Path | None = None, artifacts: str | Path | None = None) -> FuzzResult:
    """Fuzz the controller of ``folder`` for ``seconds`` (or ``runs`` inputs, whichever first).

    ``corpus``: a folder kept across runs (new coverage is saved there); by default a
    temporary one. A failing input is written into ``artifacts`` (default: a folder
    under the cache) and returned with the report.
    """
    if seconds is None and runs is None:
        raise MpcgenError("fuzz: give a time (seconds) or a number of inputs (runs)")
    if (seconds is not None and seconds <= 0) or (runs is not None and runs <= 0):
        raise MpcgenError("fuzz: seconds and runs must be positive")
    folder = Path(folder).resolve()
    manifest, c = _controller(folder)
    exe = build_fuzzer(folder)
    artifacts = Path(artifacts) if artifacts else exe.parent / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mpcgen-fuzz-") as tmp:
        corpus_dir = Path(corpus) if corpus else Path(tmp)
        corpus_dir.mkdir(parents=True, exist_ok=True)
        args = [str(exe), f"-seed={seed}", f"-max_len={MAX_LEN}", f"-timeout={INPUT_TIMEOUT_S}",
                f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
        if seconds is not None:
            args.append(f"-max_total_time={max(1, math.ceil(seconds))}")
        if runs is not None:
            args.append(f"-runs={runs}")
        env = dict(os.environ, ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:allocator_may_return_null=1",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        env.pop("MPCGEN_FUZZ_TRACE", None)
        t0 = time.perf_counter()
        run = subprocess.run([*args, str(corpus_dir)], capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - t0
        log = run.stderr
        corpus_size = sum(1 for p in corpus_dir.iterdir() if p.is_file())
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", log, re.M))
    cov = re.findall(r"cov: (\d+)", log)
    crash = re.search(r"Test unit written to (\S+)", log)
    report = "\n".join(m.group(0).strip() for m in _FAILURE.finditer(log))
    if run.returncode != 0 and not report:
        report = f"the fuzzer exited with status {run.returncode}: {log.strip().splitlines()[-1] if log.strip() else ''}"
    return FuzzResult(c.prefix, manifest["options"]["precision"], int(stats.get("number_of_executed_units", 0)),
                      elapsed, int(cov[-1]) if cov else 0, corpus_size,
                      Path(crash.group(1)) if crash else None, report if run.returncode != 0 else "")


def replay(folder: str | Path, inputs: list[str | Path], trace: bool = True) -> tuple[int, str]:
    """Run input files through the harness without libFuzzer; (exit code, stderr: the call trace)."""
    exe = build_fuzzer(folder, standalone=True)
    env = dict(os.environ)
    if trace:
        env["MPCGEN_FUZZ_TRACE"] = "1"
    run = subprocess.run([str(exe), *map(str, inputs)], capture_output=True, text=True, env=env)
    return run.returncode, run.stderr


def memcheck(folder: str | Path, steps: int = 200, inputs: list[str | Path] = ()) -> MemcheckResult:
    """valgrind memcheck over ``steps`` closed-loop steps of the folder's example scenario
    (feedback and prepare replaying recorded states) and over fuzz ``inputs``."""
    from ..runs.controller_bench import compile_harness, record_states

    if shutil.which("valgrind") is None:
        raise BuildError("valgrind not found; install it (apt-get install valgrind)")
    folder = Path(folder).resolve()
    manifest, c = _controller(folder)
    logs, errors, lost = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="mpcgen-memcheck-") as tmp:
        work = Path(tmp)
        states, _ = record_states(folder, manifest["source"], steps)
        states = states.reshape(1, -1, c.nx)[:, :steps]
        driver = compile_harness(folder, FUZZ_FLAGS, work)
        data = work / "states.bin"
        np.concatenate([[1, states.shape[1]], states.reshape(-1)]).astype(np.float64).tofile(data)
        commands = [[str(driver), str(data)]]
        if inputs:
            commands.append([str(build_fuzzer(folder, standalone=True)), *map(str, inputs)])
        for command in commands:
            run = subprocess.run(["valgrind", "--tool=memcheck", "--leak-check=full", "--track-origins=yes",
                                  "--error-exitcode=99", *command], capture_output=True, text=True)
            logs.append(run.stderr)
            m = re.search(r"ERROR SUMMARY: (\d+) errors", run.stderr)
            errors += int(m.group(1)) if m else 1
            d = re.search(r"definitely lost: ([\d,]+) bytes", run.stderr)
            lost += int(d.group(1).replace(",", "")) if d else 0
            if run.returncode not in (0, 99):
                errors += 1
                logs.append(f"{command[0]} exited with status {run.returncode}")
    return MemcheckResult(c.prefix, int(states.shape[1]), len(inputs), errors, lost, "\n".join(logs))
