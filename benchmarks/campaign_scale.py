"""How far a robustness campaign scales: pendulum swing-ups on 1 and 2 local Dask workers.

Measures, on the committed ``generated/pendulum`` folder (the full 100-sample swing-up,
parameters uniform over their ranges):

1. in this process, without Dask: the time of one sample (the closed loop alone);
2. one worker, one sample per task: what a task costs the engine (scheduler, transfer,
   the Parquet part), per task;
3. one worker and two workers, automatic batches: runs per second, their ratio, and the
   overhead per sample (worker time not spent in a closed loop, idle tails included);
4. 10,000 swing-ups on two workers, timed end to end (cluster start and compile included);
5. the result volume: bytes per row of a Parquet part, and the client's time to write one.

    .venv/bin/python benchmarks/campaign_scale.py [--samples 2000] [--big 10000]

Takes about three minutes on two cores. The figures go in the README's Campaigns section.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mpcgen.runs.campaign import campaign
from mpcgen.runs.campaign_sample import CampaignSpec, prepare, run_sample
from mpcgen.runs.campaign_store import schema, write_part

FOLDER = Path(__file__).resolve().parent.parent / "generated" / "pendulum"


def in_process(samples: int) -> float:
    """Seconds per sample, the closed loop alone (median over ``samples``)."""
    rig = prepare(FOLDER, CampaignSpec(steps=100))
    times = [run_sample(rig, i)[0]["run_time_s"] for i in range(samples)]
    return statistics.median(times)


def result_volume(result) -> tuple[float, float]:
    """(bytes per row in a 64-row Parquet part, seconds to write one such part on the client)."""
    rows = result.table.slice(0, 64).to_pylist()
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            write_part(Path(tmp), rows, schema(result.model))
            times.append(time.perf_counter() - t0)
        size = sum(p.stat().st_size for p in Path(tmp).glob("part-*.parquet"))
    return size / len(rows), statistics.median(times)


def dask_run(samples: int, workers: int, batch: int | None = None):
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = campaign(FOLDER, samples, workers=workers, batch=batch, output=Path(tmp) / "out")
        return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="samples per 1- and 2-worker run (default 2000)")
    parser.add_argument("--big", type=int, default=10000, help="the end-to-end campaign (default 10000)")
    args = parser.parse_args()

    alone = in_process(200)
    print(f"closed loop alone (in process, no Dask): {1e3 * alone:.2f} ms per swing-up (median of 200)")

    single, _ = dask_run(200, 1, batch=1)
    t = single.timing
    per_task = (t.wall_s - t.sample_s) / t.tasks
    print(f"1 worker, 1 sample per task: {t.runs_per_s:.1f} runs/s; engine cost {1e3 * per_task:.2f} ms per task "
          f"({per_task / (t.sample_s / t.ran):.0%} of a swing-up)")

    rates = {}
    for workers in (1, 2):
        result, total = dask_run(args.samples, workers)
        t = result.timing
        rates[workers] = t.runs_per_s
        per_sample = (t.workers * t.wall_s - t.setup_s - t.sample_s) / t.ran
        print(f"{workers} worker(s), {t.tasks} tasks of {t.batch}: {t.runs_per_s:.1f} runs/s "
              f"({t.ran} runs in {t.wall_s:.1f} s, {total:.1f} s with cluster start); overhead "
              f"{t.overhead:.1%} of the simulation time, {1e3 * per_sample:.2f} ms per sample; "
              f"success {sum(result.table.column('success').to_pylist()) / t.ran:.1%}")
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")

    result, total = dask_run(args.big, 2)
    t = result.timing
    print(f"{args.big} swing-ups on 2 workers: {total:.1f} s end to end ({t.wall_s:.1f} s running, "
          f"{t.runs_per_s:.1f} runs/s, {t.tasks} tasks of {t.batch}, overhead {t.overhead:.1%})")
    per_row, write_s = result_volume(result)
    print(f"results: {per_row:.0f} bytes per row in a 64-row part, {1e3 * write_s:.2f} ms to write a part "
          f"(on the client)")
    runs_per_core = rates[1]
    print(f"on paper: 10^6 runs on 100 nodes x 2 cores at {runs_per_core:.0f} runs/s per core: "
          f"{1e6 / (200 * runs_per_core):.0f} s of simulation")


if __name__ == "__main__":
    main()
