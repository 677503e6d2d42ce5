"""Robustness campaigns on a 2-worker Dask LocalCluster: nothing lost, reproducible.

Short pendulum swing-ups (a steps override) from the committed generated folder, which
is only read: the workers compile it into the session's private cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT

from mpcgen.errors import CampaignError
from mpcgen.problem.examples import get_example
from mpcgen.problem.scenario import Uncertainty
from mpcgen.runs.campaign import TIMING_COLUMNS, campaign, replay
from mpcgen.runs.campaign_report import wilson_interval
from mpcgen.runs.sampling import draw

PENDULUM = ROOT / "generated" / "pendulum"
SAMPLES, STEPS = 12, 60


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=50)
    dask_client = Client(cluster)
    yield dask_client
    dask_client.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(client, tmp_path_factory):
    """The uncertainty-free campaign of SAMPLES short swing-ups on the 2 workers, in one go."""
    out = tmp_path_factory.mktemp("reference")
    return campaign(PENDULUM, SAMPLES, seed=3, steps=STEPS, estimator="none", client=client, output=out, batch=2)


def _rows(result):
    """The table without its measured columns, as a list of row dicts."""
    return result.table.drop_columns(list(TIMING_COLUMNS)).to_pylist()


def _parts_indices(out: Path) -> list[int]:
    return sorted(i for p in out.glob("part-*.parquet") for i in pq.read_table(p).column("index").to_pylist())


def test_one_and_two_workers_give_identical_tables(reference, tmp_path) -> None:
    one = campaign(PENDULUM, SAMPLES, seed=3, steps=STEPS, estimator="none", workers=1, output=tmp_path / "one")
    assert one.timing.workers == 1 and reference.timing.workers == 2
    assert _rows(one) == _rows(reference)
    assert reference.table.column("index").to_pylist() == list(range(SAMPLES))
    ok = reference.table.column("success").to_pylist()
    assert 0 < sum(ok) < SAMPLES, "±20 % pole lengths: some swing-ups fail, most do not"
    row, loop = replay(PENDULUM, 5, seed=3, steps=STEPS, estimator="none")   # one sample alone, in this process
    assert {k: v for k, v in row.items() if k not in TIMING_COLUMNS} == _rows(reference)[5]
    assert loop is not None and len(loop.result.U) == STEPS


def test_report_names_the_worst_samples_and_plots(reference, tmp_path) -> None:
    text = reference.summary()
    failed = [r for r in reference.table.to_pylist() if not r["success"]]
    worst = max(failed, key=lambda r: r["cost"])
    assert f"{SAMPLES - len(failed)} of {SAMPLES}" in text and "Wilson interval" in text
    row = next(line for line in text.splitlines() if line.strip().startswith(f"{worst['index']} "))
    assert f"{worst['p_l']:.5g}" in row, "the worst sample's drawn pole length"
    from mpcgen.runs.campaign_report import plot_campaign

    path = plot_campaign(reference, tmp_path / "campaign.png", plane=("M", "l"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interrupted_campaign_resumes_to_the_same_table(reference, client, tmp_path) -> None:
    """The client process is killed (SIGKILL) after its first parts are written; the campaign
    run again with the same arguments runs only the rest and gives the uninterrupted table."""
    out = tmp_path / "interrupted"
    command = [sys.executable, "-m", "mpcgen.cli", "campaign", str(PENDULUM), "--samples", str(SAMPLES),
               "--seed", "3", "--steps", "400", "--workers", "1", "--batch", "1", "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline:
            assert process.poll() is None, "the campaign ended before it was interrupted"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)   # the client and its local cluster
        process.wait()
    done = _parts_indices(out)
    assert 2 <= len(done) < SAMPLES, "interrupted part way"
    with pytest.raises(CampaignError, match="other arguments"):
        campaign(PENDULUM, SAMPLES, seed=4, steps=400, client=client, output=out)
    # the reference ran 30 steps; the interrupted campaign 400: compare it with its own uninterrupted twin
    resumed = campaign(PENDULUM, SAMPLES, seed=3, steps=400, client=client, output=out, batch=2)
    assert resumed.timing.ran == SAMPLES - len(done), "finished samples are skipped"
    assert _parts_indices(out) == list(range(SAMPLES)), "every sample exactly once"
    whole = campaign(PENDULUM, SAMPLES, seed=3, steps=400, client=client, batch=3)
    assert _rows(resumed) == _rows(whole)


def _kill_a_worker_once_parts_appear(client, out: Path) -> tuple[threading.Thread, list[int]]:
    pid = sorted(client.run(os.getpid).values())[0]
    killed: list[int] = []

    def kill() -> None:
        deadline = time.monotonic() + 60
        while not list(out.glob("part-*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(pid, signal.SIGKILL)
        killed.extend((pid, len(list(out.glob("part-*.parquet")))))

    thread = threading.Thread(target=kill)
    thread.start()
    return thread, killed


def test_killed_worker_still_runs_every_sample_once(reference, client, tmp_path) -> None:
    out = tmp_path / "killed"
    killer, killed = _kill_a_worker_once_parts_appear(client, out)
    result = campaign(PENDULUM, 24, seed=3, steps=200, client=client, output=out, batch=2)
    killer.join()
    assert killed and killed[1] < 12, "killed while batches were left"
    assert result.timing.ran == 24
    assert _parts_indices(out) == list(range(24)), "every sample exactly once"
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in set(client.run(os.getpid).values()), "the worker was replaced"
    whole = campaign(PENDULUM, 24, seed=3, steps=200, client=client, batch=6)
    assert _rows(result) == _rows(whole)


def test_killed_only_worker_loses_the_shipped_folder_and_the_campaign_sends_it_again(client, tmp_path) -> None:
    """One worker: the folder's files scattered to it die with it; the lost batches run again."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0", silence_logs=50) as cluster, \
            Client(cluster) as one:
        out = tmp_path / "killed-one"
        killer, killed = _kill_a_worker_once_parts_appear(one, out)
        result = campaign(PENDULUM, 24, seed=3, steps=200, client=one, output=out, batch=2)
        killer.join()
    assert killed and killed[1] < 12, "killed while batches were left"
    assert _parts_indices(out) == list(range(24)), "every sample exactly once"
    assert _rows(result) == _rows(campaign(PENDULUM, 24, seed=3, steps=200, client=client, batch=6))


def test_a_failing_sample_is_recorded_not_fatal(client) -> None:
    """A pole of 1 µm (the range is 0.64..0.96 m): the plant's state overflows, the controller
    answers nonfinite_input; every sample is a failure row with its status, and the campaign ends."""
    result = campaign(PENDULUM, 4, steps=STEPS, estimator="none", ranges=(("l", 1e-6, 1e-6),), client=client)
    t = result.table
    assert t.column("index").to_pylist() == [0, 1, 2, 3]
    assert t.column("outcome").to_pylist() == ["status nonfinite_input"] * 4
    assert not any(t.column("success").to_pylist())
    assert min(t.column("status_nonfinite_input").to_pylist()) > 0
    assert "0 of 4 = 0.0%" in result.summary()


def test_draws_depend_on_seed_and_index_only() -> None:
    _, model = get_example("pendulum")
    u = Uncertainty("normal", x0_std=(0.1, 0.1, 0.0, 0.0))
    alone = draw(model, (0, 3.14, 0, 0), u, 7, 5)
    in_order = [draw(model, (0, 3.14, 0, 0), u, 7, i) for i in range(6)][5]
    assert np.array_equal(alone.p, in_order.p) and np.array_equal(alone.x0, in_order.x0)
    assert alone.noise_seed == in_order.noise_seed
    assert not np.array_equal(alone.p, draw(model, (0, 3.14, 0, 0), u, 8, 5).p)
    lo, hi = np.array([v.lo for v in model.parameters]), np.array([v.hi for v in model.parameters])
    uniform = np.array([draw(model, (0,) * 4, Uncertainty(), 0, i).p for i in range(200)])
    assert (uniform >= lo).all() and (uniform <= hi).all()


def test_wilson_interval_matches_the_closed_form() -> None:
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)   # z^2 / (n + z^2)
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


MODEL_FILE = '''
import mpcgen
from mpcgen.problem.examples import pendulum as example


def plant():
    return example.pendulum()


def ocp(model):
    return example.ocp(model)


def plant_scenario(model):
    return mpcgen.Scenario("swing-up", x0=(0.0, 3.14159, 0.0, 0.0), steps=50,
                           uncertainty=mpcgen.Uncertainty("normal", vary=("l",), x0_std=(0.0, 0.1, 0.0, 0.0)))
'''


def test_the_model_files_scenario_gives_the_distributions_and_options_replace_fields(tmp_path) -> None:
    import json
    import shutil

    from mpcgen.runs.campaign import resolve_spec

    (tmp_path / "plant.py").write_text(MODEL_FILE)
    folder = tmp_path / "folder"
    shutil.copytree(PENDULUM, folder)   # the same C; its manifest now names the model file
    manifest = json.loads((folder / "mpcgen.json").read_text())
    (folder / "mpcgen.json").write_text(json.dumps({**manifest, "source": f"{tmp_path / 'plant.py'}:plant"}))
    _, spec = resolve_spec(folder)
    assert spec.steps == 50 and spec.uncertainty == Uncertainty("normal", vary=("l",), x0_std=(0, 0.1, 0, 0))
    _, spec = resolve_spec(folder, distribution="uniform", steps=7)
    assert spec.steps == 7 and spec.uncertainty == Uncertainty("uniform", vary=("l",), x0_std=(0, 0.1, 0, 0))
    _, model = get_example("pendulum")
    drawn = np.array([draw(model, (0,) * 4, spec.uncertainty, 0, i).p for i in range(20)])
    assert np.ptp(drawn[:, 2]) > 0.1 and (np.ptp(drawn[:, :2], axis=0) == 0).all(), "only l varies"


def test_samples_run_on_the_folders_ekf_where_it_has_one() -> None:
    """estimator "auto": the pendulum (which has an EKF) runs plant -> noisy sensors -> EKF ->
    controller; "none" measures the state; a folder without an EKF refuses "ekf"."""
    from mpcgen.errors import MpcgenError

    row, loop = replay(PENDULUM, 2, seed=3, steps=STEPS)
    assert loop.description.endswith("(on the EKF's estimate)") and row["start_status"] == "ok"
    assert len(loop.result.U) == STEPS and np.isfinite(loop.result.X).all()
    _, measured = replay(PENDULUM, 2, seed=3, steps=STEPS, estimator="none")
    assert not measured.description.endswith("(on the EKF's estimate)")
    assert not np.allclose(loop.result.U, measured.result.U)   # the estimate is not the state
    with pytest.raises(MpcgenError, match="has no EKF"):
        replay(ROOT / "generated" / "cstr", 0, steps=10, estimator="ekf")
