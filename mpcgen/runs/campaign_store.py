"""The Parquet folder of a robustness campaign: its record, its parts, its table.

A campaign's output folder holds ``_campaign.json`` (the folder's content key, the model
and the :class:`~.campaign_sample.CampaignSpec`: what the rows depend on) and one part
``part-FIRST-LAST.parquet`` per finished batch, each written to a temporary name and
renamed, so a part is either whole or absent. The folder is a Parquet dataset
(``pyarrow.dataset.dataset(folder)`` or pandas read it as one table). A run with other
arguments refuses the folder instead of mixing two campaigns.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import CampaignError
from ..problem.model import Model
from .campaign_sample import columns

RECORD = "_campaign.json"


@contextmanager
def output_folder(output) -> Iterator[Path]:
    """``output`` (created if missing), or a temporary folder removed afterwards (None)."""
    if output is not None:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        yield out
        return
    with tempfile.TemporaryDirectory(prefix="mpcgen-campaign-") as tmp:
        yield Path(tmp)


def claim(out: Path, key: str, spec_json: dict, model: Model) -> None:
    """Record the campaign's arguments in ``out``, or check that they are the recorded ones."""
    record = {"folder_key": key, "model": model.name, "spec": spec_json}
    path = out / RECORD
    if path.is_file():
        if json.loads(path.read_text()) != record:
            raise CampaignError(f"{out}: holds a campaign with other arguments (seed, uncertainty, steps or "
                                f"folder); give another --output to start a new one, or the same arguments to resume")
        return
    if any(out.glob("part-*.parquet")):
        raise CampaignError(f"{out}: holds result parts but no {RECORD}; give another --output")
    _atomic_write(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


def finished(out: Path) -> dict[int, bool]:
    """Sample index -> success of every sample already in ``out``'s parts."""
    done: dict[int, bool] = {}
    for part in sorted(out.glob("part-*.parquet")):
        t = pq.read_table(part, columns=["index", "success"])
        done.update(zip(t.column("index").to_pylist(), t.column("success").to_pylist()))
    return done


def gather(out: Path, samples: int) -> pa.Table:
    """Every part's rows of the samples below ``samples``, sorted by index."""
    parts = [pq.read_table(p) for p in sorted(out.glob("part-*.parquet"))]
    if not parts:
        raise CampaignError(f"{out}: no results were written")
    table = pa.concat_tables(parts)
    table = table.filter(pc.less(table.column("index"), samples))
    return table.sort_by("index")


def schema(model: Model) -> pa.Schema:
    kinds = {"index": pa.int64(), "success": pa.bool_(), "outcome": pa.string(), "settled": pa.bool_(),
             "start_status": pa.string(), "qp_iterations_max": pa.int64()}
    return pa.schema([(c, kinds.get(c, pa.int64() if c.startswith("status_") else pa.float64()))
                      for c in columns(model)])


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_part(out: Path, rows: list[dict], schema: pa.Schema) -> None:
    rows = sorted(rows, key=lambda r: r["index"])
    path = out / f"part-{rows[0]['index']:09d}-{rows[-1]['index']:09d}.parquet"
    tmp = out / f".{path.name}.tmp"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    os.replace(tmp, path)
