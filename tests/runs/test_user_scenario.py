"""A user's model file with its scenario: ``mpcgen simulate DIR`` with no flags runs it (a
reference step and a push on the load), ``--save`` writes a table pandas loads, a
reference trajectory is previewed over the horizon, and the CLI's bad values are one
clear line each (the bad-input gallery of simulate and verify)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import mpcgen
from mpcgen.cli import main
from mpcgen.problem.scenario import Scenario
from mpcgen.errors import MpcgenError
from mpcgen.runs.closed_loop import run_closed_loop

CRANE = ROOT / "tests" / "data" / "crane"


@pytest.fixture(scope="module")
def crane(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mpcgen.generate(f"{CRANE / 'crane.py'}:crane", tmp_path_factory.mktemp("crane") / "crane")


def test_simulate_runs_the_model_files_scenario_and_saves_it(crane: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "runs" / "crane.csv"
    assert main(["simulate", str(crane), "--save", str(table)]) == 0
    out = capsys.readouterr().out
    assert "closed loop: carry 1 m and up, back to 0.5 m at 4 s" in out
    assert f"created folder {table.parent}; time series written to {table}" in out
    run = pd.read_csv(table)
    states = ["xc", "vc", "l", "vl", "theta", "omega"]
    assert list(run.columns) == (["t"] + [f"x_{s}" for s in states] + ["u_a", "u_b"]
                                 + [f"x_ref_{s}" for s in states] + ["status", "qp_iterations", "step_time_us"])
    assert len(run) == 161 and run["t"].iloc[-1] == pytest.approx(8.0)
    assert run["u_a"].isna().tolist() == [False] * 160 + [True]   # the final row: the state only
    assert (run["x_ref_xc"].iloc[:80] == 1.0).all() and (run["x_ref_xc"].iloc[80:160] == 0.5).all()
    assert (run["status"].iloc[:160] == "ok").all()
    assert (run["qp_iterations"].iloc[:160] >= 1).all() and (run["step_time_us"].iloc[:160] > 0).all()
    assert run["x_xc"].iloc[79] == pytest.approx(1.0, abs=0.05)   # carried over before the step back
    assert run["x_xc"].iloc[-1] == pytest.approx(0.5, abs=0.05)   # and back after the gust
    assert run["x_omega"].iloc[121] - run["x_omega"].iloc[119] > 0.3   # the gust on the load arrived
    # the same run as Parquet, column for column
    parquet = tmp_path / "crane.parquet"
    assert main(["simulate", str(crane), "--save", str(parquet)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(parquet).drop(columns="step_time_us"),
                                  run.drop(columns="step_time_us"), check_dtype=False)


def test_reference_trajectory_is_tracked_with_preview(tmp_path: Path) -> None:
    folder = mpcgen.generate(f"{CRANE / 'crane_tracking.py'}:tracking", tmp_path / "tracking")
    run = run_closed_loop(folder)
    X, ref = run.result.X[:-1], run.x_ref
    assert run.statuses == ("ok",) * 200
    np.testing.assert_allclose(ref[:, 0], 0.5 * np.sin(0.5 * 0.05 * np.arange(200)), atol=1e-12)
    error = np.abs(X[40:, 0] - ref[40:, 0])   # after the first 2 s
    assert error.max() < 0.02, error.max()    # a previewed sine: tracked without lag
    assert np.abs(X[40:, 2] - 1.2).max() < 0.01


@pytest.mark.parametrize("function, message", [
    ("late_step", "scenario: reference_steps at sample 80 is outside 0..49"),
    ("short_x0", "scenario: x0 has 3 entries, the model has 6 states"),
    ("not_a_scenario", "not_a_scenario_scenario(model) must return an mpcgen.Scenario, got dict"),
    ("scenario_raises", "scenario_raises_scenario(model) raised AttributeError"),
])
def test_bad_scenario_in_a_model_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  function: str, message: str) -> None:
    """generate loads the scenario too (example_main.c starts from it): the mistake shows
    there, before any file is written, and again in simulate on an older folder."""
    folder = tmp_path / function
    assert main(["generate", f"{CRANE / 'bad_scenarios.py'}:{function}", "-o", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not folder.exists()
    assert main(["generate", f"{CRANE / 'bad_scenarios.py'}:{function}", "-o", str(folder), "--no-controller"]) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps must be a positive integer"),
    ({"steps": 10, "noise_std": (-0.1,)}, "noise_std must be >= 0"),
    ({"steps": 10, "pushes": ((3, (0.0, float("nan"))),)}, "pushes at sample 3 must be finite"),
    ({"steps": 10, "reference": [1.0, 2.0]}, "reference must be a function of time t"),
    ({"steps": 10, "reference": lambda t: (t,), "reference_steps": ((1, (0.0,)),)},
     "give reference_steps or a reference trajectory, not both"),
])
def test_bad_scenario_values(kwargs: dict, message: str) -> None:
    with pytest.raises(MpcgenError, match=message):
        Scenario("bad", x0=(0.0, 0.0), **kwargs)


#: (arguments after the generated crane folder; exit code; a substring of the one line)
CLI_GALLERY = [
    (["--plot", "{tmp}/x.jpg"], 2, "--plot {tmp}/x.jpg: unknown image format '.jpg'; use one of .png, .pdf, .svg"),
    (["--save", "{tmp}/x.xlsx"], 2, "unknown table format '.xlsx'; use .csv or .parquet"),
    (["--noise", "-0.1"], 2, "noise: standard deviations must be >= 0"),
    (["--noise", "0.1,0.2"], 2, "noise: expected 1 or 6 numbers, got 2"),
    (["--x0", "0,0,0,0,0,nan"], 2, "x0: values must be finite"),
]


@pytest.mark.parametrize("args, code, message", CLI_GALLERY, ids=[a[0] + " " + a[1] for a, _, _ in CLI_GALLERY])
def test_simulate_bad_values_are_one_line(crane: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], code: int, message: str) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(["simulate", str(crane), "--steps", "3", *args]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.format(tmp=tmp_path) in err[0], err
    assert not list(tmp_path.iterdir())   # nothing written


def test_verify_refuses_a_negative_number_of_points(crane: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(crane), "-k", "-5"]) == 2
    assert "points must be a whole number >= 0" in capsys.readouterr().err


def test_noise_broadcasts_and_plots_follow_their_extension(crane: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name, magic in (("run.pdf", b"%PDF"), ("run.svg", b"<?xml"), ("run.png", b"\x89PNG")):
        assert main(["simulate", str(crane), "--steps", "20", "--noise", "0.01", "--plot", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes()[:len(magic)] == magic
    out = capsys.readouterr().out
    assert "created folder" not in out   # tmp_path existed
    fresh = tmp_path / "new" / "deeper" / "run.png"
    assert main(["simulate", str(crane), "--steps", "5", "--plot", str(fresh)]) == 0
    assert f"created folder {fresh.parent}; plot written to {fresh}" in capsys.readouterr().out
    noisy = run_closed_loop(crane, steps=20, noise_std="0.01")
    exact = run_closed_loop(crane, steps=20, noise_std="0")
    assert not np.allclose(noisy.result.U, exact.result.U)


def test_a_campaign_sample_follows_the_scenarios_reference_steps_and_pushes(crane: Path) -> None:
    """A campaign's closed loop is simulate's: the reference step at sample 80 and the gust
    at 120 happen in every sample, and settling is judged against the reference then."""
    from mpcgen.runs.campaign import replay

    row, loop = replay(crane, 0, seed=1, vary=("c",))
    assert loop is not None and row["success"], row
    assert (loop.x_ref[:80, 0] == 1.0).all() and (loop.x_ref[80:, 0] == 0.5).all()
    assert loop.result.X[121, 5] - loop.result.X[119, 5] > 0.3   # the gust on the load
    assert abs(loop.result.X[-1, 0] - 0.5) < 0.05


def test_a_remote_campaign_worker_gets_the_model_files_helpers(crane: Path, tmp_path: Path, monkeypatch) -> None:
    """A worker without the model file's folder loads the shipped copy, and the helper it
    imports from its folder (crane_geometry.py) travels with it."""
    import dataclasses

    from mpcgen.problem.source import load_source
    from mpcgen.runs.campaign import _job
    from mpcgen.runs.campaign_sample import CampaignSpec
    from mpcgen.runs.campaign_worker import _materialize

    job = _job(crane, CampaignSpec())
    assert [name for name, _ in job.source_helpers] == ["bad_scenarios.py", "crane_geometry.py", "crane_tracking.py"]
    elsewhere = dataclasses.replace(job, source_file=("/nowhere/crane.py", job.source_file[1]))
    monkeypatch.setattr("mpcgen.runs.campaign_worker.cache_dir", lambda: tmp_path)
    folder, source = _materialize(elsewhere)
    assert source.startswith(str(tmp_path)) and source.endswith("model_source/crane.py:crane")
    assert load_source(source).model.name == "crane"   # crane_geometry imported from the shipped copy
