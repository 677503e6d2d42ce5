"""The worker side of a robustness campaign: a task runs one batch of samples.

Each worker process keeps the prepared :class:`~.campaign_sample.Rig` of each campaign it
has seen (compiled once into the worker's own cache from the files shipped with the
job), and runs one sample at a time: the compiled controller keeps its memory in static
storage, so threads of a multi-threaded worker wait their turn.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

from ..codegen.manifest import MANIFEST
from ..compiled.build import cache_dir
from .campaign_sample import Rig, prepare, run_sample

if TYPE_CHECKING:
    from .campaign import Job


class LeaveInterruptsToTheClient(WorkerPlugin):
    """A worker plugin for the local cluster: Ctrl-C reaches the whole process group, and the
    client, not each worker, answers it (cancels the batches, closes the cluster)."""

    def setup(self, worker) -> None:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:   # not the worker process's main thread: leave it
            pass


#: per worker process: the prepared rig of each campaign (key: folder and spec)
_RIGS: dict[str, Rig] = {}
#: the compiled controller keeps its memory in static storage: one sample at a time per process
_LOCK = threading.Lock()


def run_batch(job: Job, indices: list[int]) -> tuple[list[dict], float]:
    """A task: the rows of samples ``indices``, and the seconds spent preparing (0 when cached)."""
    with _LOCK:
        setup = 0.0
        rig_key = job.key + json.dumps(job.spec.to_json(), sort_keys=True)
        rig = _RIGS.get(rig_key)
        if rig is None:
            t0 = time.perf_counter()
            folder, source = _materialize(job)
            rig = _RIGS[rig_key] = prepare(folder, job.spec, source)
            setup = time.perf_counter() - t0
        return [run_sample(rig, i)[0] for i in indices], setup


def _materialize(job: Job) -> tuple[Path, str | None]:
    """The job's folder in this worker's cache (written once, atomically) and the model source to
    load: the user's model file where it is (a local worker), else the shipped copy."""
    target = cache_dir() / "campaign-folders" / job.key[:32]
    if not (target / MANIFEST).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        for name, data in job.files.items():
            (work / name).write_bytes(data)
        if job.source_file is not None:
            (work / "model_source").mkdir()
            (work / "model_source" / Path(job.source_file[0]).name).write_bytes(job.source_file[1])
            for name, data in job.source_helpers:   # the helpers the model file imports from its folder
                (work / "model_source" / name).write_bytes(data)
        try:
            os.replace(work, target)
        except OSError:   # another process of this machine wrote it first
            shutil.rmtree(work, ignore_errors=True)
    if job.source_file is None:
        return target, None
    original, data = Path(job.source_file[0]), job.source_file[1]
    func = job.source.rpartition(":")[2] if ".py:" in job.source else ""
    path = original if original.is_file() and original.read_bytes() == data else (
        target / "model_source" / original.name)
    return target, f"{path}:{func}" if func else str(path)
