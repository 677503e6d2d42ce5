"""Input-rate limits |u_k - u_{k-1}| <= du_max (``mpcgen.rate_model`` / ``rate_ocp``): the
crane's drives may change by at most 0.3 and 0.1 m/s^2 per sample. The converged SQP of
the shipped C gives IPOPT's solution of the same OCP, the closed loop never changes an
input faster than allowed nor leaves the input bounds, and bad arguments are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, folder_ocp, solve_beside_ipopt

import mpcgen
from mpcgen.derivatives.discretize import discrete_model
from mpcgen.problem.ocp import OcpError, check_ocp
from mpcgen.problem.source import load_source
from mpcgen.runs.closed_loop import run_closed_loop

CRANE = ROOT / "tests" / "data" / "crane" / "crane.py"
DU_MAX = np.array([0.3, 0.1])
START = np.array([0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0])   # at rest, drives off


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rate")
    return {"double": mpcgen.generate(f"{CRANE}:crane_rate", root / "double"),
            "float": mpcgen.generate(f"{CRANE}:crane_rate", root / "float", precision="float")}


def test_lifted_problem() -> None:
    loaded = load_source(f"{CRANE}:crane_rate")
    m = loaded.model
    assert [v.name for v in m.states][6:] == ["a", "b"] and [v.name for v in m.inputs] == ["d_a", "d_b"]
    ocp = check_ocp(m, loaded.ocp(m), discrete_model(m, mpcgen.CodegenOptions(ts=0.05)))
    np.testing.assert_array_equal(ocp.u_hi, DU_MAX)
    assert ocp.x_hard == (6, 7) and ocp.x_hi[6:].tolist() == [3.0, 1.0]


@pytest.mark.parametrize("precision", ["double", "float"])
def test_rate_limits_match_ipopt(folders: dict[str, Path], precision: str) -> None:
    """From rest and from a state with the drives on: the same plan as IPOPT's, in which the
    rate limits bind and hold."""
    ctrl = mpcgen.load(folders[precision])
    ocp, options = folder_ocp(folders[precision])
    tol = 1e-5 if precision == "double" else 2e-2
    ctrl.configure(sqp_max_iter=100)
    for x0 in (START, np.array([0.3, 0.2, 1.3, -0.1, 0.05, 0.0, 2.0, -0.6])):
        X, dU, ref = solve_beside_ipopt(ctrl, ocp, options, x0)
        np.testing.assert_allclose(dU, ref.U, atol=tol * 0.6)
        np.testing.assert_allclose(X, ref.X, atol=tol * 3.0)
        applied = np.vstack([x0[6:], X[1:, 6:]])   # u_{-1}, then u_0..u_{N-1}
        assert (np.abs(np.diff(applied, axis=0)) <= DU_MAX + (1e-9 if precision == "double" else 1e-5)).all()
        assert np.isclose(np.abs(ref.U), DU_MAX, atol=1e-6).any()   # a limit binds


def test_closed_loop_never_changes_an_input_faster_than_allowed(folders: dict[str, Path]) -> None:
    """The scenario's 160 samples: every change within du_max, every input within its
    bounds (hard rows now), and the load arrives as without limits."""
    run = run_closed_loop(folders["double"])
    assert set(run.statuses) == {"ok"}
    applied = run.result.X[:, 6:]
    assert (np.abs(np.diff(applied, axis=0)) <= DU_MAX + 1e-9).all()
    assert np.abs(np.diff(applied, axis=0)).max(axis=0) == pytest.approx(DU_MAX)   # used to the limit
    assert (applied <= [3.0, 1.0]).all() and (applied >= [-3.0, -1.0]).all()
    final = run.result.X[-1]
    assert abs(final[0] - 1.0) < 0.02 and abs(final[2] - 1.0) < 0.02


@pytest.mark.parametrize("du_max, message", [
    ([0.3], "du_max must be 2 finite numbers > 0"),
    ([0.3, -0.1], "du_max must be 2 finite numbers > 0"),
    (np.nan, "du_max must be 2 finite numbers > 0"),
])
def test_bad_rate_limits_are_refused(du_max, message: str) -> None:
    lifted = load_source(f"{CRANE}:crane_rate").model
    ocp = load_source(f"{CRANE}:crane").ocp(lifted)   # the crane's OCP, written for the unlifted sizes
    with pytest.raises(OcpError, match=message):
        mpcgen.rate_ocp(ocp, lifted, du_max)


def test_rate_ocp_needs_the_lifted_model() -> None:
    loaded = load_source(f"{CRANE}:crane")
    with pytest.raises(OcpError, match=r"needs the model from rate_model\(model, ts\)"):
        mpcgen.rate_ocp(loaded.ocp(loaded.model), loaded.model, 0.1)
    with pytest.raises(OcpError, match="sample time must be a number > 0"):
        mpcgen.rate_model(loaded.model, 0.0)


def test_simulate_cli_runs_the_lifted_crane(folders: dict[str, Path], tmp_path: Path) -> None:
    """`mpcgen simulate FOLDER --save` with the model file's scenario: no flags needed, and
    the saved run holds the lifted states (the applied inputs) beside the rates."""
    import pandas as pd

    from mpcgen.cli import main

    out = tmp_path / "run.csv"
    assert main(["simulate", str(folders["double"]), "--save", str(out)]) == 0
    table = pd.read_csv(out)
    assert {"x_a", "x_b", "u_d_a", "u_d_b"} <= set(table.columns)
    assert (table["u_d_a"].dropna().abs() <= DU_MAX[0] + 1e-9).all()   # the last row: the final state


@pytest.mark.slow
def test_fuzzing_the_lifted_crane_finds_no_failure(folders: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from mpcgen.checks.fuzz import fuzz

    if shutil.which("clang") is None:
        pytest.skip("clang (libFuzzer) not installed: make tools")
    result = fuzz(folders["float"], seconds=4.0, seed=2, artifacts=tmp_path)
    assert result.passed, result.report
