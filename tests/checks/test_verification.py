"""Verification on the compiled C: every example passes; an injected error is caught."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpcgen import generate, verify
from mpcgen.problem.examples import EXAMPLES


def _corrupt_fused_jacobian(c_file: Path, array: str) -> None:
    """Scale one stored Jacobian entry of F_and_jacobians by (1 + 1e-4); F stays intact."""
    text = c_file.read_text()
    start = text.index("_F_and_jacobians(")
    body = text[start:]
    m = re.search(rf"\n(\s+){array}\[(\d+)\] = (w\d+);", body)
    assert m, f"no store into {array} found"
    corrupted = body[: m.start()] + f"\n{m.group(1)}{array}[{m.group(2)}] = {m.group(3)} * 1.0001;" + body[m.end():]
    c_file.write_text(text[:start] + corrupted)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
@pytest.mark.parametrize("precision", ["double", "float"])
def test_every_example_verifies(tmp_path: Path, name: str, precision: str) -> None:
    out = generate(name, tmp_path / name, precision=precision)
    report = verify(out, points=100 if precision == "double" else 30)
    assert report.passed, report.table()
    methods = {(r.block, r.method) for r in report.rows}
    assert {("A", "casadi"), ("A", "central"), ("A", "complex"), ("B", "complex")} <= methods


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


@pytest.mark.parametrize("array", ["A", "B"])
def test_injected_error_is_caught_by_both_difference_methods(tmp_path: Path, array: str) -> None:
    out = generate("pendulum", tmp_path / "pendulum")
    _corrupt_fused_jacobian(out / "pendulum.c", array)
    report = verify(out, points=10)
    assert not report.passed
    failed = {(r.block, r.method) for r in report.rows if not r.passed}
    assert (array, "central") in failed, report.table()
    assert (array, "complex") in failed, report.table()
    assert (array, "casadi") in failed, report.table()
    assert "FAILED" in report.table()
