"""The command line: help, exit codes, one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

MODELS = ROOT / "tests" / "data" / "user_models.py"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpcgen.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_commands() -> None:
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("generate", "verify", "examples", "bench"):
        assert cmd in r.stdout
    r = run("generate", "--help")
    assert r.returncode == 0 and "--precision" in r.stdout and "--substeps" in r.stdout


def test_examples_lists_all() -> None:
    r = run("examples")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == ["pendulum", "quadrotor", "cstr", "robot_arm", "chain"]


def test_generate_and_verify_user_file(tmp_path: Path) -> None:
    r = run("generate", f"{MODELS}:oscillator", "-o", str(tmp_path / "osc"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "osc" / "oscillator.c").is_file()
    r = run("verify", str(tmp_path / "osc"), "-k", "5")
    assert r.returncode == 0, r.stderr
    assert "PASSED" in r.stdout and "central" in r.stdout and "complex" in r.stdout


def test_failed_verification_exits_one(tmp_path: Path) -> None:
    run("generate", f"{MODELS}:oscillator", "-o", str(tmp_path / "osc"))
    c = tmp_path / "osc" / "oscillator.c"
    text = c.read_text()
    marker = "A[0] = "
    i = text.index(marker, text.index("oscillator_F_and_jacobians("))
    c.write_text(text[:i] + "A[0] = 0.5 + " + text[i + len(marker):])
    r = run("verify", str(tmp_path / "osc"), "-k", "3")
    assert r.returncode == 1
    assert "FAIL" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "nosuchplant", "-o", "x"], "unknown example 'nosuchplant'"),
        (["generate", f"{MODELS}:bad_dimension", "-o", "x"], "ODE has shape 1x1 but the model has 2 states"),
        (["generate", f"{MODELS}:raises", "-o", "x"], "raised ValueError: spring constant table missing (user_models.py line"),
        (["generate", f"{MODELS}:missing", "-o", "x"], "has no function 'missing'"),
        (["generate", f"{MODELS}:not_a_model", "-o", "x"], "must return an mpcgen.Model, got int"),
        (["generate", "nofile.py:f", "-o", "x"], "nofile.py: no such model file"),
        (["generate", f"{MODELS}:oscillator", "-o", "x", "--ts", "-1"], "sample time ts must be a positive"),
        (["generate", f"{MODELS}:oscillator", "-o", "x", "--substeps", "0"], "substeps must be an integer"),
        (["generate", "chain:1000", "-o", "x"], "chain"),
        (["verify", "no/such/folder"], "not a generated folder"),
        (["campaign", str(ROOT / "generated" / "pendulum"), "--range", "Q=1:2", "-o", "x"],
         "model 'pendulum' has no parameter 'Q' (parameters: M, m, l)"),
        (["quality", str(ROOT / "generated" / "pendulum"), "--perturbed", "--scale", "2"],
         "perturbed starts: scale must be in (0, 1], got 2.0"),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mpcgen: error: "), r.stderr
    assert message in lines[0]
    assert not (tmp_path / "x").exists(), "no output folder on failure"


def test_nonsmooth_model_warns_and_generates(tmp_path: Path) -> None:
    r = run("generate", f"{MODELS}:nonsmooth", "-o", str(tmp_path / "ns"))
    assert r.returncode == 0
    assert "mpcgen: warning: model 'nonsmooth': the ODE of state 'v' uses non-smooth fabs" in r.stderr
