"""Hard state and constraint rows (``Ocp(x_hard=..., h_hard=...)``): the crane's swing
limited hard to 0.1 rad and its load height as a hard path constraint. The converged SQP of
the shipped C gives IPOPT's solution of the same OCP (hard rows as plain inequalities), the
closed loop holds the limit, an OCP whose hard rows cannot hold says INFEASIBLE with a
control within the input bounds, and a controller without hard rows emits none of it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, folder_ocp, solve_beside_ipopt

import mpcgen
from mpcgen.derivatives.discretize import discrete_model
from mpcgen.problem.ocp import OcpError, check_ocp
from mpcgen.problem.options import CodegenOptions
from mpcgen.problem.source import load_source
from mpcgen.runs.reference import solve_reference

CRANE = ROOT / "tests" / "data" / "crane" / "crane.py"
START = np.array([0.0, 0.0, 1.5, 0.0, 0.0, 0.0])
SWING = 0.1   # the hard limit on theta (state 4)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hard")
    return {"double": mpcgen.generate(f"{CRANE}:crane_hard", root / "double"),
            "float": mpcgen.generate(f"{CRANE}:crane_hard", root / "float", precision="float")}


@pytest.mark.parametrize("precision", ["double", "float"])
def test_hard_rows_match_ipopt(folders: dict[str, Path], precision: str) -> None:
    """From rest and from a swinging start, the converged SQP and IPOPT agree, and the swing
    limit is active and held without relaxation."""
    ctrl = mpcgen.load(folders[precision])
    ocp, options = folder_ocp(folders[precision])
    assert ocp.x_hard == (4,) and ocp.h_hard == (0,)
    tol = 1e-5 if precision == "double" else 2e-2
    ctrl.configure(sqp_max_iter=100)
    for x0 in (START, np.array([0.2, 0.0, 1.4, 0.0, 0.05, -0.2])):
        X, U, ref = solve_beside_ipopt(ctrl, ocp, options, x0)
        np.testing.assert_allclose(U, ref.U, atol=tol * 6.0)   # of the input ranges (6, 2)
        np.testing.assert_allclose(X, ref.X, atol=tol * 3.0)
        assert np.abs(X[1:, 4]).max() <= SWING + (1e-8 if precision == "double" else 1e-4)
        assert np.abs(ref.X[1:, 4]).max() == pytest.approx(SWING, abs=1e-6)   # the limit binds


def test_soft_limit_gives_way_where_the_hard_one_holds(folders: dict[str, Path]) -> None:
    """The same limit soft with a small penalty is exceeded by IPOPT's optimum; hard, not."""
    ocp, options = folder_ocp(folders["double"])
    soft = dataclasses.replace(ocp, x_hard=(), slack_l1=1.0, slack_l2=1.0)
    hard = solve_reference(ocp, options, START)
    relaxed = solve_reference(soft, options, START)
    assert hard.success and relaxed.success
    assert np.abs(relaxed.X[1:, 4]).max() > SWING + 0.02 > np.abs(hard.X[1:, 4]).max()


def test_closed_loop_holds_the_limit_and_reports_a_push_beyond_it(folders: dict[str, Path]) -> None:
    """Real-time iteration on the crane's scenario: the swing stays within the hard limit (to
    the linearization's error) and the load arrives. A push of the load the limit cannot
    absorb makes the next samples INFEASIBLE, with the step's control, and the loop
    recovers once the swing is back inside."""
    ctrl = mpcgen.load(folders["double"])
    ocp, options = folder_ocp(folders["double"])
    plant = discrete_model(ocp.model, options)
    p = np.array([v.nominal_value for v in ocp.model.parameters])
    x = START.copy()
    ctrl.start(x)
    statuses, swing = [], []
    for k in range(160):
        if k == 100:
            # omega: a swing no input can stop within 0.1 rad (0.5 rad/s the real-time step
            # holds to 0.0995 since its primal and dual parts take their own step lengths)
            x[5] += 0.8
        u = ctrl.step(x)
        statuses.append(ctrl.last_status)
        assert (np.abs(u) <= ocp.u_hi + 1e-12).all()
        x = np.array(plant(x, u, p)).reshape(-1)
        swing.append(x[4])
    swing = np.abs(swing)
    assert set(statuses[:100]) == {"ok"}
    assert swing[:100].max() <= SWING + 1e-4
    assert "infeasible" in statuses[100:115] and set(statuses[130:]) == {"ok"}
    assert swing[100:115].max() > SWING   # the push did carry it beyond
    assert abs(x[0] - 1.0) < 0.05 and abs(x[2] - 1.0) < 0.05


def test_infeasible_hard_rows_give_the_status_and_a_safe_control(folders: dict[str, Path]) -> None:
    """A start swinging beyond the limit: no input can bring theta back within one sample.
    IPOPT finds no solution, the shipped solve says INFEASIBLE and writes the plan's first
    input (within bounds); from a good state it solves again."""
    ctrl = mpcgen.load(folders["double"])
    ocp, options = folder_ocp(folders["double"])
    bad = np.array([0.0, 0.0, 1.5, 0.0, 0.3, 1.0])
    assert not solve_reference(ocp, options, bad).success
    ctrl.set_initial_guess(bad)
    planned = ctrl.trajectory()[1][0]
    u = ctrl.solve(bad)
    assert ctrl.last_status == "infeasible" and ctrl.stats["qp_status"] == 4
    np.testing.assert_array_equal(u, np.clip(planned, ocp.u_lo, ocp.u_hi))
    ctrl.set_initial_guess(START)
    ctrl.solve(START)
    assert ctrl.last_status == "ok"


def test_without_hard_rows_nothing_is_emitted(folders: dict[str, Path], tmp_path: Path) -> None:
    soft = mpcgen.generate(f"{CRANE}:crane", tmp_path / "soft")
    assert "_real hard_tol;" not in (soft / "crane_mpc.h").read_text()
    assert "relaxed[NSOFT]" not in (soft / "crane_qp.c").read_text()
    assert "_real hard_tol;" in (folders["double"] / "crane_mpc.h").read_text()
    with pytest.raises(Exception, match="unknown controller setting 'hard_tol'"):
        mpcgen.load(soft).configure(hard_tol=1e-3)
    hard = mpcgen.load(folders["double"])
    hard.configure(hard_tol=1e-3)
    assert hard.settings["hard_tol"] == 1e-3


#: (Ocp changes, the message)
BAD = [
    ({"x_hard": (True,) * 5}, "x_hard has 5 entries, there are 6"),
    ({"x_hard": (True, False, False, False, False, False)}, "marks state 'xc' hard, but it has no finite bound"),
    ({"x_hard": "yes"}, "x_hard must hold True or False"),
    ({"h_hard": (True, True)}, r"h_hard has 2 entries, there is 1 \(h\[0\]\)"),
    ({"h_terminal_hard": (True,)}, r"h_terminal_hard has 1 entries, there are 0 \(no row of h_terminal\)"),
    ({"x_hard": 3}, "x_hard must be True, False or one True/False per state, got int"),
]


@pytest.mark.parametrize("changes, message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_hard_flags_are_refused(changes: dict, message: str) -> None:
    loaded = load_source(f"{CRANE}:crane")
    with pytest.raises(OcpError, match=message):
        check_ocp(loaded.model, dataclasses.replace(loaded.ocp(loaded.model), **changes))


def test_all_hard_needs_no_slack_penalty() -> None:
    loaded = load_source(f"{CRANE}:crane")
    ocp = dataclasses.replace(loaded.ocp(loaded.model), x_hard=True, h_hard=True, slack_l1=0.0, slack_l2=0.0)
    x_lo = np.where(np.isfinite(ocp.x_lo), ocp.x_lo, -5.0)   # every state bounded, so every row is hard
    F = discrete_model(loaded.model, CodegenOptions(ts=0.05))
    checked = check_ocp(loaded.model, dataclasses.replace(ocp, x_lo=x_lo), F)
    assert checked.x_hard == tuple(range(6))
    with pytest.raises(OcpError, match="soft constraints need a slack penalty"):
        check_ocp(loaded.model, dataclasses.replace(ocp, x_lo=x_lo, h_hard=False), F)


@pytest.mark.slow
def test_fuzzing_a_controller_with_hard_rows_finds_no_failure(folders: dict[str, Path], tmp_path: Path) -> None:
    """The fuzz harness on the hard-row crane: every status in the enum (INFEASIBLE
    included), the control within bounds, no crash or sanitizer finding."""
    from mpcgen.checks.fuzz import fuzz

    if shutil.which("clang") is None:
        pytest.skip("clang (libFuzzer) not installed: make tools")
    result = fuzz(folders["double"], seconds=4.0, seed=1, artifacts=tmp_path)
    assert result.passed, result.report


def test_plot_draws_hard_state_bounds_as_such(folders: dict[str, Path], tmp_path: Path) -> None:
    from mpcgen.cli import main

    pytest.importorskip("matplotlib")
    out = tmp_path / "run.svg"
    assert main(["simulate", str(folders["double"]), "--steps", "20", "--plot", str(out)]) == 0
    text = out.read_text()
    assert "<!-- hard bound -->" in text and "<!-- soft state bound -->" in text
