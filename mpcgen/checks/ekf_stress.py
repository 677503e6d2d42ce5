"""The generated EKF under bad input: AddressSanitizer + UBSan, and valgrind memcheck.

- ``driver_source``: renders ``templates/ekf_stress_main.c.j2`` for a folder with an EKF:
  a C driver of random calls of init, update, predict and set_gate with extreme and
  non-finite values (NaN, +-Inf, +-huge, +-tiny), which aborts when the header's promises
  break (a status outside the enum, a non-finite estimate or covariance).
- ``stress``: compiles it with the folder's model and filter, either with clang and
  ``-fsanitize=address,undefined`` (every report fatal), or as a libFuzzer target (the
  same calls and checks, their words taken from the fuzzer's inputs, coverage-guided,
  under the same sanitizers), or plainly for valgrind memcheck (which does not mix with
  them), runs it and returns an :class:`EkfStressResult`.

The controller's counterpart (libFuzzer, its valgrind run) is :mod:`.fuzz`.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..codegen.manifest import read_manifest
from ..codegen.render import environment
from ..errors import BuildError, MpcgenError
from .fuzz import CLANG, FUZZ_FLAGS, _literal

TOOLS = ("sanitizers", "libfuzzer", "memcheck")
#: Every sanitizer report fatal; unlike the controller's harness (see .fuzz) the filter is small
#: enough to keep UBSan's alignment and pointer-overflow checks.
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
_SPECIALS = {"double": {"huge": "1e300", "tiny": "1e-300"}, "float": {"huge": "1e38f", "tiny": "1e-38f"}}


@dataclass(frozen=True)
class EkfStressResult:
    """One run of the stress driver under the sanitizers or memcheck."""

    prefix: str
    tool: str              # "sanitizers", "libfuzzer" or "memcheck"
    calls: int             # calls of the driver (libfuzzer: inputs run, each up to len/8 + 1 calls)
    finished: bool         # the driver printed "done": no broken promise
    errors: int            # memcheck's ERROR SUMMARY count (sanitizers: 1 on a report)
    definitely_lost: int   # bytes (memcheck)
    log: str

    @property
    def passed(self) -> bool:
        return self.finished and self.errors == 0 and self.definitely_lost == 0

    def line(self) -> str:
        what = {"sanitizers": "clang ASan + UBSan", "libfuzzer": "libFuzzer, ASan + UBSan",
                "memcheck": "valgrind memcheck"}[self.tool]
        verdict = "no finding" if self.passed else "FAILED"
        calls = "inputs" if self.tool == "libfuzzer" else "calls with extreme values"
        return (f"{self.prefix:<14} {what}: {self.calls} {calls}: {self.errors} errors, "
                f"{self.definitely_lost} bytes definitely lost, {verdict}")


def _ekf(folder: Path) -> tuple[dict, dict]:
    manifest = read_manifest(folder)
    data = manifest["interfaces"].get("ekf")
    if data is None:
        raise BuildError(f"{folder}: has no EKF to stress (the model declares no outputs with measurement noise)")
    return manifest, data


def driver_source(folder: str | Path, calls: int = 20_000) -> str:
    """The stress driver C of a generated folder with an EKF."""
    manifest, data = _ekf(Path(folder))
    p_nominal = [_literal(v["nominal"]) for v in manifest["model"]["parameters"]] or ["0.0"]
    return environment().get_template("ekf_stress_main.c.j2").render(
        prefix=data["prefix"], PREFIX=data["prefix"].upper(), model_prefix=data["model_prefix"],
        c_type=data["c_type"], nx=data["nx"], nu=data["nu"], np=data["np"], ny=data["ny"], calls=calls,
        p_nominal=p_nominal, **_SPECIALS[manifest["options"]["precision"]])


def stress(folder: str | Path, tool: str = "sanitizers", calls: int = 20_000, seconds: float = 10.0,
           seed: int = 1) -> EkfStressResult:
    """Build the driver for ``tool`` ("sanitizers": clang ASan + UBSan; "libfuzzer": the
    same as a libFuzzer target, fuzzed for ``seconds`` from ``seed``; "memcheck": plain,
    under valgrind) in a temporary folder, run it, and report."""
    if tool not in TOOLS:
        raise MpcgenError(f"ekf stress: tool must be one of {', '.join(TOOLS)}, got {tool!r}")
    if calls < 1:
        raise MpcgenError(f"ekf stress: calls must be >= 1, got {calls}")
    folder = Path(folder).resolve()
    _, data = _ekf(folder)
    sources = [folder / f"{data['model_prefix']}.c", folder / f"{data['prefix']}.c"]
    missing = [p.name for p in sources if not p.is_file()]
    if missing:
        raise BuildError(f"{folder}: missing {', '.join(missing)}; regenerate the folder")
    if tool == "libfuzzer" and not seconds > 0:
        raise MpcgenError(f"ekf stress: seconds must be > 0, got {seconds}")
    cc = "gcc" if tool == "memcheck" else CLANG
    flags = {"sanitizers": (*FUZZ_FLAGS, *SANITIZE), "memcheck": FUZZ_FLAGS,
             "libfuzzer": (*FUZZ_FLAGS, "-fsanitize=fuzzer", *SANITIZE, "-DMPCGEN_LIBFUZZER")}[tool]
    for program in (cc, *(("valgrind",) if tool == "memcheck" else ())):
        if shutil.which(program) is None:
            raise BuildError(f"{program} not found; install it (make tools) to stress the EKF")
    with tempfile.TemporaryDirectory(prefix="mpcgen-ekf-stress-") as tmp:
        work = Path(tmp)
        (work / "driver.c").write_text(driver_source(folder, calls))
        exe = work / "driver"
        build = subprocess.run([cc, *flags, "-I", str(folder), str(work / "driver.c"), *map(str, sources), "-o",
                                str(exe), "-lm"], capture_output=True, text=True)
        if build.returncode != 0:
            first = next((ln for ln in build.stderr.splitlines() if "error" in ln), build.stderr.strip()[:300])
            raise BuildError(f"compiling the EKF stress driver for {folder} with {cc} failed: {first}")
        command = [str(exe)]
        if tool == "memcheck":
            command = ["valgrind", "--tool=memcheck", "--leak-check=full", "--track-origins=yes",
                       "--error-exitcode=99", *command]
        if tool == "libfuzzer":
            (work / "corpus").mkdir()
            command += [f"-seed={seed}", "-max_len=4096", f"-max_total_time={max(1, math.ceil(seconds))}",
                        f"-artifact_prefix={work}/", "-print_final_stats=1", str(work / "corpus")]
        run = subprocess.run(command, capture_output=True, text=True)
    if tool == "libfuzzer":
        units = re.search(r"stat::number_of_executed_units:\s+(\d+)", run.stderr)
        return EkfStressResult(data["prefix"], tool, int(units.group(1)) if units else 0, run.returncode == 0,
                               int(run.returncode != 0), 0, run.stdout[-2000:] + run.stderr[-4000:])
    finished = run.stdout.strip().endswith("done")
    if tool == "memcheck":
        m = re.search(r"ERROR SUMMARY: (\d+) errors", run.stderr)
        errors = int(m.group(1)) if m else 1
        d = re.search(r"definitely lost: ([\d,]+) bytes", run.stderr)
        lost = int(d.group(1).replace(",", "")) if d else 0
    else:
        errors, lost = int(run.returncode != 0), 0
    return EkfStressResult(data["prefix"], tool, calls, finished and run.returncode == 0, errors, lost,
                           run.stdout[-2000:] + run.stderr[-4000:])
