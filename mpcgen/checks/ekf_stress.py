"""The generated EKF under bad input: AddressSanitizer + UBSan, and valgrind memcheck.

- ``driver_source``: renders ``templates/ekf_stress_main.c.j2`` for a folder with an EKF:
  a C driver of random calls of init, update, predict and set_gate with extreme and
  non-finite values (NaN, +-Inf, +-huge, +-tiny), which aborts when the header's promises
  break (a status outside the enum, a non-finite estimate or covariance).
- ``stress``: compiles it with the folder's model and filter, either with clang and
  ``-fsanitize=address,undefined`` (every report fatal) or plainly for valgrind memcheck
  (the two do not mix), runs it and returns an :class:`EkfStressResult`.

The controller's counterpart (libFuzzer, its valgrind run) is :mod:`.fuzz`.
"""

from __future__ import annotations

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

TOOLS = ("sanitizers", "memcheck")
#: Every sanitizer report fatal; unlike the controller's harness (see .fuzz) the filter is small
#: enough to keep UBSan's alignment and pointer-overflow checks.
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
_SPECIALS = {"double": {"huge": "1e300", "tiny": "1e-300"}, "float": {"huge": "1e38f", "tiny": "1e-38f"}}


@dataclass(frozen=True)
class EkfStressResult:
    """One run of the stress driver under the sanitizers or memcheck."""

    prefix: str
    tool: str              # "sanitizers" or "memcheck"
    calls: int
    finished: bool         # the driver printed "done": no broken promise
    errors: int            # memcheck's ERROR SUMMARY count (sanitizers: 1 on a report)
    definitely_lost: int   # bytes (memcheck)
    log: str

    @property
    def passed(self) -> bool:
        return self.finished and self.errors == 0 and self.definitely_lost == 0

    def line(self) -> str:
        what = "clang ASan + UBSan" if self.tool == "sanitizers" else "valgrind memcheck"
        verdict = "no finding" if self.passed else "FAILED"
        return (f"{self.prefix:<14} {what}: {self.calls} calls with extreme values: {self.errors} errors, "
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


def stress(folder: str | Path, tool: str = "sanitizers", calls: int = 20_000) -> EkfStressResult:
    """Build the driver for ``tool`` ("sanitizers": clang ASan + UBSan; "memcheck": plain,
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
    cc = CLANG if tool == "sanitizers" else "gcc"
    flags = (*FUZZ_FLAGS, *SANITIZE) if tool == "sanitizers" else FUZZ_FLAGS
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
        run = subprocess.run(command, capture_output=True, text=True)
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
