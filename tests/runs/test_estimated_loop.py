"""mpcgen simulate --estimator ekf: the generated MPC on the generated EKF's estimate."""

from __future__ import annotations

import numpy as np
from conftest import ROOT

from mpcgen.cli import main
from mpcgen.runs.estimated_loop import run_estimated_loop

GENERATED = ROOT / "generated"


def test_the_pendulum_swings_up_on_the_estimate_from_position_and_angle_alone() -> None:
    run = run_estimated_loop(GENERATED / "pendulum", seed=0)
    assert [o.name for o in run.model.outputs] == ["p_meas", "theta_meas"]
    assert set(run.controller_statuses) == {"ok"}
    assert np.max(np.abs(run.X[-20:, :2])) < 0.1     # upright near the origin for the last second (noise kicks it)
    assert np.max(np.abs(run.X[-1, :2])) < 0.02
    # the filter's 2 sigma band holds the truth 95.4 % of the time when it is consistent; 100
    # correlated samples per state move that share by a few percent (seeds 0-3: 90-96 %)
    assert run.inside.mean() >= 0.9, run.inside
    assert np.all(np.isfinite(run.X_hat)) and np.all(run.std > 0)


def test_simulate_with_the_ekf_from_the_cli(tmp_path, capsys) -> None:
    assert main(["simulate", str(GENERATED / "pendulum"), "--estimator", "ekf", "--steps", "30", "--seed", "2",
                 "--plot", str(tmp_path / "ekf.png")]) == 0
    out = capsys.readouterr().out
    assert "closed loop with the EKF" in out and "within its 2 sigma band" in out
    assert (tmp_path / "ekf.png").stat().st_size > 20_000


def test_a_folder_without_sensors_says_so(capsys) -> None:
    assert main(["simulate", str(GENERATED / "cstr"), "--estimator", "ekf"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no EKF" in err
