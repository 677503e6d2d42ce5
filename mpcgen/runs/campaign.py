"""Robustness campaigns: thousands of closed loops of a folder's compiled controller on Dask.

``mpcgen.campaign(DIR, samples)`` draws each sample's plant from (seed, index)
(:mod:`.sampling`), runs its closed loop on a ``dask.distributed`` cluster
(:mod:`.campaign_sample`) and gathers one row per sample in a Parquet dataset.

- **Engine.** A ``LocalCluster`` with one single-threaded worker process per core by
  default (``workers`` sets the size), or an existing cluster (``scheduler``:
  ``tcp://HOST:PORT``, or a ``client``). The generated folder's files (and a model file
  the folder was made from) are scattered to the workers once; each worker writes them
  into its own cache and compiles them there, as :func:`mpcgen.load` does.
- **Batches.** Samples go in batches (one task each), sized so that the per-task cost of
  the scheduler stays a few per cent of the simulation time; the result's ``timing``
  measures it.
- **Nothing lost.** Each finished batch is written at once as a Parquet part
  (temporary file, then rename) in ``output``; a campaign run again with the same
  arguments skips the sample indices already there. A batch lost with its worker runs
  again (Dask reschedules it; a result or shipped folder the cluster lost is sent
  again); a failing sample is a row that says why. What a task runs on its worker is
  :mod:`.campaign_worker`.
- **Reproducible.** A sample's row depends on the campaign seed and its index only; the
  measured columns (``TIMING_COLUMNS``) are the exception.

:func:`replay` reruns one sample alone in this process, with its closed loop.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from ..codegen.manifest import MANIFEST, read_manifest
from ..errors import CampaignError, MpcgenError, OptionsError
from ..problem.model import Model
from ..problem.scenario import Uncertainty
from ..problem.source import is_file_spec
from .campaign_sample import TIMING_COLUMNS, CampaignSpec, prepare, run_sample
from .campaign_store import claim, finished, gather, output_folder, schema, write_part
from .closed_loop import ClosedLoop, folder_problem
from .sampling import check_uncertainty

#: a batch holds at most this many samples (about a second of pendulum swing-ups)
MAX_BATCH = 64
#: batches per worker at least, so that the last ones finish close together
BATCHES_PER_WORKER = 8
#: how often a batch is sent again after the cluster lost it (beyond Dask's own retries)
RESUBMITS = 3


@dataclass(frozen=True)
class Job:
    """What every task of a campaign needs: the folder's files, its model source, the spec."""

    key: str
    files: dict[str, bytes]
    source: str
    source_file: tuple[str, bytes] | None
    spec: CampaignSpec
    #: the other Python files of the model file's folder (name, bytes): the helpers it may
    #: import, shipped with it to workers that do not have the folder
    source_helpers: tuple[tuple[str, bytes], ...] = ()


#: the largest helper file shipped beside a model file (bigger ones are data, not helpers)
HELPER_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Timing:
    """Where the time of this call went (samples skipped on resume are not counted)."""

    workers: int
    tasks: int
    batch: int
    ran: int            # samples run by this call
    wall_s: float       # from the first batch sent to the last result written
    sample_s: float     # sum over samples of their closed-loop wall time
    setup_s: float      # sum over workers of the one-off preparation (compile or cache hit)

    @property
    def overhead(self) -> float:
        """Worker time not spent in samples or setup, over the time in samples (engine cost,
        idle tails included)."""
        busy = self.workers * self.wall_s - self.setup_s
        return (busy - self.sample_s) / self.sample_s if self.sample_s > 0 else math.nan

    @property
    def runs_per_s(self) -> float:
        return self.ran / self.wall_s if self.wall_s > 0 else math.nan


@dataclass(frozen=True)
class CampaignResult:
    """The result table (one row per sample, sorted by index) and what made it."""

    table: pa.Table
    model: Model
    spec: CampaignSpec
    samples: int
    output: Path | None
    timing: Timing

    def summary(self, worst: int = 10) -> str:
        from .campaign_report import summary

        return summary(self, worst)


def resolve_spec(folder: str | Path, seed: int = 0, uncertainty: Uncertainty | None = None, distribution=None,
                 ranges=None, x0_std=None, noise_std=None, vary=None, steps: int | None = None,
                 settle_tol: float = 1.0, estimator: str = "auto") -> tuple[Model, CampaignSpec]:
    """The campaign's spec: the scenario's uncertainty (or ``uncertainty``), each given
    override replacing its field; steps: the scenario's unless given."""
    model, _, _, scenario = folder_problem(Path(folder))
    if scenario is None:
        raise OptionsError(f"{folder}: its model ships no scenario to run a campaign around; "
                           "add FUNCTION_scenario(model) to the model file")
    base = uncertainty or scenario.uncertainty or Uncertainty()
    changes = {k: v for k, v in dict(distribution=distribution, ranges=ranges, x0_std=x0_std,
                                     noise_std=noise_std, vary=vary).items() if v is not None}
    chosen = replace(base, **changes)
    check_uncertainty(model, chosen)
    return model, CampaignSpec(seed=int(seed), uncertainty=chosen, steps=int(steps or scenario.steps),
                               settle_tol=float(settle_tol), estimator=estimator)


def campaign(folder: str | Path, samples: int, *, seed: int = 0, uncertainty: Uncertainty | None = None,
             distribution: str | None = None, ranges=None, x0_std=None, noise_std=None, vary=None,
             steps: int | None = None, settle_tol: float = 1.0, output: str | Path | None = None, workers: int | None = None,
             scheduler: str | None = None, client=None, batch: int | None = None,
             progress: bool = False, estimator: str = "auto") -> CampaignResult:
    """Run ``samples`` closed loops of ``folder``'s controller (see the module docstring).

    ``estimator``: "auto" runs each sample on the folder's EKF (noisy sensors -> EKF ->
    controller) where it has one, else on the state measured with noise; "ekf" or "none".

    ``output``: the Parquet folder (None: a temporary one, removed after); a folder of an
    earlier run with the same arguments is resumed. ``progress``: a progress line on stderr.
    """
    if not isinstance(samples, int) or samples < 1:
        raise OptionsError(f"campaign: samples must be a positive integer, got {samples!r}")
    folder = Path(folder)
    model, spec = resolve_spec(folder, seed, uncertainty, distribution, ranges, x0_std, noise_std, vary, steps,
                               settle_tol, estimator)
    job = _job(folder, spec)
    with output_folder(output) as out:
        claim(out, job.key, job.spec.to_json(), model)
        done = finished(out)
        todo = [i for i in range(samples) if i not in done]
        before = [ok for i, ok in done.items() if i < samples]
        shown = _Progress(samples, len(before), before.count(False)) if progress else None
        timing = _run(job, todo, out, model, workers, scheduler, client, batch, shown)
        table = gather(out, samples)
        return CampaignResult(table, model, spec, samples, Path(output) if output is not None else None, timing)


def replay(folder: str | Path, index: int, *, seed: int = 0, uncertainty: Uncertainty | None = None,
           distribution: str | None = None, ranges=None, x0_std=None, noise_std=None, vary=None,
           steps: int | None = None, settle_tol: float = 1.0, estimator: str = "auto") -> tuple[dict, ClosedLoop | None]:
    """Rerun sample ``index`` of the campaign with these arguments here: its row and closed loop
    (None when the sample raised before its loop ran)."""
    if not isinstance(index, int) or index < 0:
        raise OptionsError(f"replay: the sample index must be an integer >= 0, got {index!r}")
    _, spec = resolve_spec(folder, seed, uncertainty, distribution, ranges, x0_std, noise_std, vary, steps,
                           settle_tol, estimator)
    return run_sample(prepare(Path(folder), spec), index, keep=True)


# -- the client side ----------------------------------------------------------------------
def _job(folder: Path, spec: CampaignSpec) -> Job:
    manifest = read_manifest(folder)
    names = sorted(set(manifest.get("files", [])) | {MANIFEST})
    files = {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()}
    source, source_file, helpers = manifest["source"], None, ()
    if is_file_spec(source):
        path = Path(source.rpartition(":")[0] if ".py:" in source else source)
        if not path.is_file():
            raise OptionsError(f"{folder}: was generated from {source!r}, which is not here to ship to the workers")
        source_file = (str(path.resolve()), path.read_bytes())
        helpers = tuple((p.name, p.read_bytes()) for p in sorted(path.parent.glob("*.py"))
                        if p.name != path.name and p.stat().st_size <= HELPER_MAX_BYTES)
    h = hashlib.sha256()
    for name, data in sorted(files.items()) + list(helpers):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(repr(source).encode() + (source_file[1] if source_file else b""))
    return Job(h.hexdigest(), files, source, source_file, spec, helpers)


@contextmanager
def _connect(workers: int | None, scheduler: str | None, client) -> Iterator[object]:
    from dask.distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler is not None:
        try:
            remote = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise CampaignError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield remote
        finally:
            remote.close()
        return
    n = workers or os.cpu_count() or 1
    if n < 1:
        raise OptionsError(f"campaign: workers must be >= 1, got {n}")
    from .campaign_worker import LeaveInterruptsToTheClient

    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.CRITICAL)
    local = Client(cluster)
    local.register_plugin(LeaveInterruptsToTheClient(), name="mpcgen-campaign-sigint")
    try:
        yield local
    finally:
        local.close()
        cluster.close()


def _run(job: Job, todo: list[int], out: Path, model: Model, workers, scheduler, client, batch,
         shown: _Progress | None) -> Timing:
    if not todo:
        return Timing(0, 0, 0, 0, 0.0, 0.0, 0.0)
    from dask.distributed import as_completed

    from .campaign_worker import run_batch

    table_schema = schema(model)
    with _connect(workers, scheduler, client) as dask_client:
        if client is None and scheduler is None:
            dask_client.wait_for_workers(workers or os.cpu_count() or 1)
        n_workers = max(1, len(dask_client.scheduler_info()["workers"]))
        size = batch or max(1, min(MAX_BATCH, math.ceil(len(todo) / (BATCHES_PER_WORKER * n_workers))))
        batches = [todo[i:i + size] for i in range(0, len(todo), size)]
        t0 = time.perf_counter()
        shipped = dask_client.scatter(job, broadcast=True, hash=False)
        pending = {dask_client.submit(run_batch, shipped, b, pure=False, retries=1): (b, 0) for b in batches}
        stream = as_completed(list(pending))
        sample_s = setup_s = 0.0
        ran = 0
        try:
            for future in stream:
                indices, attempt = pending.pop(future)
                try:
                    rows, setup = future.result()
                except MpcgenError:
                    raise
                except Exception as exc:   # the cluster lost the batch: its worker died, or the data it needed
                    if attempt >= RESUBMITS:
                        raise CampaignError(f"the cluster lost samples {indices[0]}..{indices[-1]} "
                                            f"{attempt + 1} times: {type(exc).__name__}: {exc}") from None
                    if shipped.status != "finished":   # the folder's files went with the last worker holding them
                        shipped = dask_client.scatter(job, broadcast=True, hash=False)
                    again = dask_client.submit(run_batch, shipped, indices, pure=False, retries=1)
                    pending[again] = (indices, attempt + 1)
                    stream.add(again)
                    continue
                write_part(out, rows, table_schema)
                ran += len(rows)
                setup_s += setup
                sample_s += sum(r["run_time_s"] for r in rows)
                if shown:
                    shown.update(rows)
        finally:
            for future in pending:
                future.cancel()
            if shown:
                shown.close()
        wall = time.perf_counter() - t0
    return Timing(n_workers, len(batches), size, ran, wall, sample_s, setup_s)


class _Progress:
    """One line on stderr: runs done, failed, rate and the time left."""

    def __init__(self, total: int, done: int, failed: int):
        self.total, self.done, self.failed, self.new = total, done, failed, 0
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, rows: list[dict]) -> None:
        self.done += len(rows)
        self.new += len(rows)
        self.failed += sum(not r["success"] for r in rows)
        now = time.perf_counter()
        if not self.tty and now - self.last < 5 and self.done < self.total:
            return
        self.last = now
        rate = self.new / (now - self.t0)
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        line = f"{self.done}/{self.total} runs, {self.failed} failed, {rate:.1f} runs/s, about {left:.0f} s left"
        print(("\r" + line.ljust(72)) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


__all__ = ["CampaignResult", "Job", "TIMING_COLUMNS", "Timing", "campaign", "replay", "resolve_spec"]
