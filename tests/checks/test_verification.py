"""Verification on the compiled C: every example and every shipped function passes; injected
errors are caught, named by function and output, and fail the command with exit code 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from mpcgen import generate, verify
from mpcgen.cli import main
from mpcgen.problem.examples import EXAMPLES

CRANE = ROOT / "tests" / "data" / "crane" / "crane.py"


def _function_body(text: str, name: str) -> tuple[int, int]:
    """(start, end) offsets of the body of the C function ``name``."""
    start = re.search(rf"\n(int|static inline void) {name}\(", text).start()
    return start, text.index("\n}\n", start)


def _edit_in_function(c_file: Path, function: str, pattern: str, replace) -> str:
    """Apply ``replace`` to the first match of ``pattern`` inside ``function``; return the new line."""
    text = c_file.read_text()
    start, end = _function_body(text, function)
    m = re.search(pattern, text[start:end], re.M)
    assert m, f"{pattern!r} not found in {function}"
    new = replace(m)
    c_file.write_text(text[:start + m.start()] + new + text[start + m.end():])
    return new


def _corrupt_fused_jacobian(c_file: Path, array: str) -> None:
    """Scale one stored Jacobian entry of F_and_jacobians by (1 + 1e-4); F stays intact."""
    _edit_in_function(c_file, "pendulum_F_and_jacobians", rf"^(\s+){array}\[(\d+)\] = (w\d+);$",
                      lambda m: f"{m.group(1)}{array}[{m.group(2)}] = {m.group(3)} * 1.0001;")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
@pytest.mark.parametrize("precision", ["double", "float"])
def test_every_example_verifies(tmp_path: Path, name: str, precision: str) -> None:
    out = generate(name, tmp_path / name, precision=precision)
    report = verify(out, points=100 if precision == "double" else 30)
    assert report.passed, report.table()
    prefix = name
    model = {f"{prefix}_{f}" for f in ("F", "dF_dx", "dF_du", "dF_dp", "F_and_jacobians")}
    assert model <= set(report.functions)
    methods = {(r.function, r.output, r.method) for r in report.rows}
    for fn in model - {f"{prefix}_F"}:
        for q in {"dF_dx": "A", "dF_du": "B", "dF_dp": "P"}.get(fn.removeprefix(f"{prefix}_"), "AB"):
            assert {(fn, q, "casadi"), (fn, q, "central"), (fn, q, "complex")} <= methods
    assert (f"{prefix}_F", "x_next", "casadi") in methods
    if precision == "float":
        assert all((fn, "x_next", "promoted") in methods for fn in (f"{prefix}_F", f"{prefix}_F_and_jacobians"))


def test_the_ocp_functions_are_verified_with_all_three_methods(tmp_path: Path) -> None:
    out = generate(str(CRANE) + ":crane", tmp_path / "crane")
    report = verify(out, points=10)
    assert report.passed, report.table()
    rows = {(r.output, r.method) for r in report.rows if r.function == "crane_ocp_h"}
    assert rows == {("value", "casadi"), *((q, m) for q in ("Jx", "Ju") for m in ("casadi", "central", "complex"))}
    assert "crane_ocp_h  (path constraints h(x, u, p) <= 0)" in report.table()


@pytest.fixture(scope="module")
def crane(tmp_path_factory) -> Path:
    return generate(str(CRANE) + ":crane", tmp_path_factory.mktemp("crane") / "crane")


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / folder.name))


def test_an_offset_in_the_shipped_F_fails_verify(crane: Path, tmp_path: Path, capsys) -> None:
    """Issue 13's report: `x_next[1] = w138 + 0.01` in crane_F alone passed verify."""
    folder = _copy(crane, tmp_path)
    _edit_in_function(folder / "crane.c", "crane_F", r"^(\s+)x_next\[1\] = (w\d+);$",
                      lambda m: f"{m.group(1)}x_next[1] = {m.group(2)} + 0.01;")
    assert main(["verify", str(folder), "-k", "5"]) == 1
    out = capsys.readouterr().out
    failed = [ln for ln in out.splitlines() if ln.endswith("FAIL")]
    assert failed and all("x_next" in ln for ln in failed), out
    assert re.search(r"^crane_F  \(", out, re.M) and "FAILED" in out and "crane_F x_next" in out.splitlines()[-1]


def test_a_relative_change_of_a_constant_in_F_fails_verify(crane: Path, tmp_path: Path, capsys) -> None:
    """Issue 13's report: 19.62 -> 19.62002 inside crane_F passed verify."""
    folder = _copy(crane, tmp_path)
    new = _edit_in_function(folder / "crane.c", "crane_F", r"(?<![\w.])(9\.81)(?![\w.])",
                            lambda m: repr(float(m.group(1)) * (1 + 1e-6)))
    assert new == "9.81000981"
    assert main(["verify", str(folder), "-k", "5"]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("FAILED") and "crane_F x_next" in last
    # F's own value fails against CasADi; the Jacobians (right) fail only against the
    # central differences of the wrong F
    failures = {(r.function, r.output, r.method) for r in verify(folder, points=5).failures()}
    assert ("crane_F", "x_next", "casadi") in failures
    assert {m for f, _, m in failures if f != "crane_F"} == {"central"}


def test_a_wrong_constraint_jacobian_fails_verify(crane: Path, tmp_path: Path) -> None:
    folder = _copy(crane, tmp_path)
    _edit_in_function(folder / "crane_ocp.h", "crane_ocp_h_eval", r"^(\s+)Jx\[(\d+)\] = (w\d+);$",
                      lambda m: f"{m.group(1)}Jx[{m.group(2)}] = {m.group(3)} * 1.0001;")
    report = verify(folder, points=3)
    assert {(r.function, r.output) for r in report.failures()} == {("crane_ocp_h", "Jx")}
    assert {r.method for r in report.failures()} == {"casadi", "central", "complex"}


def test_a_function_that_overflows_where_casadi_does_not_fails(crane: Path, tmp_path: Path) -> None:
    folder = _copy(crane, tmp_path)
    _edit_in_function(folder / "crane.c", "crane_dF_du", r"^(\s+)B\[(\d+)\] = (w\d+);$",
                      lambda m: f"{m.group(1)}B[{m.group(2)}] = {m.group(3)} / 0.0;")
    report = verify(folder, points=2)
    assert [(r.function, r.output, r.max_abs) for r in report.failures()] == [("crane_dF_du", "status", 3)]
    assert "  status: 3 of 3 points returned a non-OK status where CasADi evaluates finitely  FAIL" in report.table()


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["chain:1", "chain:5"])
def test_chain_sizes_verify(tmp_path: Path, spec: str) -> None:
    out = generate(spec, tmp_path / "chain")
    report = verify(out, points=30)
    assert report.passed, report.table()


@pytest.mark.slow
def test_looped_substeps_verify(tmp_path: Path) -> None:
    out = generate("robot_arm", tmp_path / "arm", substeps=5)  # auto: looped
    assert "(looped)" in (out / "robot_arm.h").read_text()
    report = verify(out, points=30)
    assert report.passed, report.table()


@pytest.mark.slow
def test_looped_float_substeps_verify_promoted(tmp_path: Path) -> None:
    out = generate("robot_arm", tmp_path / "arm", substeps=5, precision="float")
    report = verify(out, points=10)
    assert report.passed, report.table()
    assert ("robot_arm_dF_dx", "A", "promoted") in {(r.function, r.output, r.method) for r in report.rows}


@pytest.mark.parametrize("array", ["A", "B"])
def test_injected_error_is_caught_by_every_method(tmp_path: Path, array: str) -> None:
    out = generate("pendulum", tmp_path / "pendulum")
    _corrupt_fused_jacobian(out / "pendulum.c", array)
    report = verify(out, points=10)
    assert not report.passed
    failed = {(r.function, r.output, r.method) for r in report.failures()}
    assert failed == {("pendulum_F_and_jacobians", array, m) for m in ("casadi", "central", "complex")}, \
        report.table()
    assert "FAILED" in report.table()


def test_negative_points_are_refused(crane: Path, capsys) -> None:
    assert main(["verify", str(crane), "-k", "-5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "points must be a whole number >= 0" in err and "-5" in err
