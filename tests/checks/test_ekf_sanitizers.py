"""The generated EKF under AddressSanitizer + UBSan and valgrind memcheck, fed extreme data.

The driver (``templates/ekf_stress_main.c.j2``, rendered by ``mpcgen.checks.ekf_stress``)
calls init, update, predict and set_gate 20,000 times with values drawn from NaN, +-Inf,
+-1e300, +-1e-300, 0 and ordinary numbers, and aborts if an estimate or covariance is ever
not finite or a status is outside the enum. Built with clang -fsanitize=address,undefined
-fno-sanitize-recover=all, any out-of-bounds access, signed overflow or misaligned access
ends the run; built plainly and run under valgrind memcheck, any read of an uninitialised
value or leak is counted. A planted uninitialised accumulator shows memcheck sees one. The
same driver as a libFuzzer target (its words from the fuzzer's inputs) is fuzzed under the
sanitizers, and a planted out-of-bounds write shows the fuzzer finds one.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT

from mpcgen.checks.ekf_stress import driver_source, stress

GENERATED = ROOT / "generated"


def test_the_driver_is_rendered_for_the_folder_s_sizes_and_nominal_parameters() -> None:
    text = driver_source(GENERATED / "quadrotor", calls=5)
    assert '#include "quadrotor_ekf.h"' in text and "#define NY 6" in text and "#define CALLS 5" in text
    assert "quadrotor_ekf_update(y, u, p)" in text and "0.23" in text    # the arm's nominal length


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed (make tools)")
@pytest.mark.parametrize("name", ["pendulum", "quadrotor"])
def test_the_ekf_under_address_and_undefined_behaviour_sanitizers(name: str) -> None:
    result = stress(GENERATED / name, "sanitizers")
    if not result.passed and "sanitizer" in result.log.lower() and "runtime" in result.log.lower():
        pytest.skip(f"clang has no sanitizer runtime here: {result.log[:200]}")
    print(result.line())
    assert result.passed, result.log


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("gcc") is None,
                    reason="valgrind or gcc not installed")
@pytest.mark.parametrize("name", ["pendulum", "quadrotor"])
def test_valgrind_memcheck_of_the_ekf_is_clean(name: str) -> None:
    result = stress(GENERATED / name, "memcheck")
    print(result.line())
    assert result.finished and result.errors == 0 and result.definitely_lost == 0, result.log
    assert "ERROR SUMMARY: 0 errors" in result.log


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("gcc") is None,
                    reason="valgrind or gcc not installed")
def test_memcheck_finds_a_planted_uninitialised_accumulator(tmp_path) -> None:
    folder = tmp_path / "pendulum"
    shutil.copytree(GENERATED / "pendulum", folder)
    source = folder / "pendulum_ekf.c"
    text = source.read_text()
    # update's P H^T sums onto a stack slot never written (volatile: -O1 keeps it in memory)
    planted = text.replace("pendulum_real acc = 0.0;", "volatile pendulum_real acc;", 1)
    assert planted != text
    source.write_text(planted)
    result = stress(folder, "memcheck", calls=2000)
    assert not result.passed and result.errors > 0, result.log
    assert "uninitialised value" in result.log


def _libfuzzer_missing() -> str | None:
    from test_fuzz import _libfuzzer_works

    return _libfuzzer_works()


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed (make tools)")
@pytest.mark.parametrize("name", ["pendulum", "quadrotor"])
def test_libfuzzer_on_the_ekf_finds_no_failure(name: str) -> None:
    if _libfuzzer_missing():
        pytest.skip(_libfuzzer_missing())
    result = stress(GENERATED / name, "libfuzzer", seconds=4.0)
    print(result.line())
    assert result.passed and result.calls > 100, result.log


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed (make tools)")
def test_libfuzzer_finds_a_planted_write_past_the_state(tmp_path) -> None:
    """An update that writes past a stack array when a measurement is rejected: reached
    only through inputs that make the fuzzer's driver reject one."""
    if _libfuzzer_missing():
        pytest.skip(_libfuzzer_missing())
    folder = tmp_path / "pendulum"
    shutil.copytree(GENERATED / "pendulum", folder)
    source = folder / "pendulum_ekf.c"
    text = source.read_text()
    line = "    return used == PENDULUM_EKF_NY ? PENDULUM_EKF_OK : PENDULUM_EKF_REJECTED;"
    planted = text.replace(line, "    { volatile pendulum_real pad[2]; volatile int n = 1 + (used < PENDULUM_EKF_NY); pad[n] = 0; }\n"
                           + line, 1)
    assert planted != text
    source.write_text(planted)
    result = stress(folder, "libfuzzer", seconds=10.0)
    assert not result.passed and ("out of bounds" in result.log or "AddressSanitizer" in result.log), result.log[-1500:]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed (make tools)")
def test_fuzz_cli_fuzzes_the_ekf_too(capsys) -> None:
    from mpcgen.cli import main

    if _libfuzzer_missing():
        pytest.skip(_libfuzzer_missing())
    assert main(["fuzz", str(GENERATED / "pendulum"), "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "pendulum_ekf" in out and "libFuzzer, ASan + UBSan" in out and "no finding" in out
