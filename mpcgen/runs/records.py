"""The time series of a closed loop as a table: what ``mpcgen simulate --save`` writes.

One row per sample k = 0..steps: the time, the plant's state x_k (true, not measured),
the input u_k applied from t_k on, the state reference the controller tracked, the
controller's status and QP iterations, and the controller's time for the step. The
last row holds the final state only (its input columns are null). Tables are built
with pyarrow and written as CSV or Parquet by the file's extension; the columns are
named after the model's states and inputs (``x_theta``, ``u_F``, ``x_ref_theta``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import OptionsError
from .output import write_atomically

#: table formats by file extension
FORMATS = (".csv", ".parquet")


def closed_loop_table(run) -> pa.Table:
    """The table of a :class:`~mpcgen.runs.closed_loop.ClosedLoop` (see the module docstring)."""
    r, model = run.result, run.model
    steps = len(r.U)

    def padded(values, dtype) -> pa.Array:
        """``values`` for samples 0..steps-1, null on the final row."""
        return pa.array(list(values) + [None], type=dtype)

    columns: dict[str, pa.Array] = {"t": pa.array(r.t, pa.float64())}
    for i, state in enumerate(model.states):
        columns[f"x_{state.name}"] = pa.array(r.X[:, i], pa.float64())
    for j, inp in enumerate(model.inputs):
        columns[f"u_{inp.name}"] = padded(r.U[:, j], pa.float64())
    x_ref = run.x_ref if run.x_ref is not None else np.tile(run.ocp.x_ref, (steps, 1))
    for i, state in enumerate(model.states):
        columns[f"x_ref_{state.name}"] = padded(x_ref[:, i], pa.float64())
    statuses = run.statuses if run.statuses else ("ipopt",) * steps
    columns["status"] = padded(statuses, pa.string())
    iterations = run.qp_iterations if len(run.qp_iterations) == steps else np.zeros(steps, int)
    columns["qp_iterations"] = padded(iterations.astype(int), pa.int32())
    columns["step_time_us"] = padded(1e6 * np.asarray(r.solve_time), pa.float64())
    return pa.table(columns)


def check_table_path(path) -> Path:
    """``path`` as a Path if its extension is a table format (FORMATS), else one error."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise OptionsError(f"--save {path}: unknown table format {path.suffix or '(no extension)'!r}; "
                           f"use {' or '.join(FORMATS)}")
    return path


def save_closed_loop(run, path: str | Path) -> tuple[Path, bool]:
    """Write the table of ``run`` to ``path`` (.csv or .parquet), atomically. Returns the
    path and whether its folder had to be created."""
    path = check_table_path(path)
    suffix = path.suffix.lower()
    table = closed_loop_table(run)
    if suffix == ".csv":
        created = write_atomically(path, lambda name: pa_csv.write_csv(table, name))
    else:
        created = write_atomically(path, lambda name: pq.write_table(table, name))
    return path, created
