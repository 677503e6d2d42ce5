"""Plots of a closed loop: states, inputs and controller time, one PNG.

matplotlib is an optional dependency (``pip install 'mpcgen[plot]'``), imported only
when a plot is made. The figure is drawn with the Agg backend directly (no pyplot, no
global backend switch), so plotting works headless and leaves the caller's matplotlib
state alone.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import MpcgenError, OutputError
from ..problem.model import Model
from ..problem.ocp import CheckedOcp
from .simulate import SimResult

#: Subplots per column before another column is started.
ROWS_PER_COLUMN = 8


def _matplotlib():
    """(Figure, FigureCanvasAgg), or a one-line error naming the extra to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MpcgenError("plotting needs matplotlib: pip install 'mpcgen[plot]'") from None
    return Figure, FigureCanvasAgg


def _label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else name


def _bounds(ax, lo: float, hi: float, style: str, label: str) -> None:
    for value in (lo, hi):
        if math.isfinite(value):
            ax.axhline(value, color="tab:red", linestyle=style, linewidth=0.8, label=label)
            label = None  # one legend entry per pair of bounds


def plot_closed_loop(result: SimResult, model: Model, ocp: CheckedOcp, path, title: str | None = None) -> Path:
    """Write a PNG of ``result`` to ``path``: one subplot per state (with the reference,
    dashed, and the soft bounds, dotted, where finite), per input (as applied, held over
    each sample, with its hard bounds) and the controller's time per step in microseconds.

    Returns the path written. The file is written to a temporary name and renamed, so an
    interrupted plot never leaves a truncated PNG.
    """
    Figure, FigureCanvasAgg = _matplotlib()
    path = Path(path)
    t = result.t
    t_steps = t[:-1]
    panels = model.nx + model.nu + 1
    columns = math.ceil(panels / ROWS_PER_COLUMN)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(5.0 * columns, 1.7 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, sharex=True, squeeze=False).T.reshape(-1)
    figure.suptitle(title or f"{model.name}: closed loop, Ts = {result.ts:g} s, {len(t_steps)} steps")

    for i, state in enumerate(model.states):
        ax = axes[i]
        ax.plot(t, result.X[:, i], color="tab:blue", linewidth=1.2)
        ax.axhline(ocp.x_ref[i], color="black", linestyle="--", linewidth=0.8, label="reference")
        _bounds(ax, ocp.x_lo[i], ocp.x_hi[i], ":", "soft bound")
        ax.set_ylabel(_label(state.name, state.unit), fontsize=8)
    for j, inp in enumerate(model.inputs):
        ax = axes[model.nx + j]
        if len(t_steps):
            # u_k acts from t_k to t_{k+1}: a staircase ending at the last sample
            ax.stairs(result.U[:, j], t, color="tab:green", linewidth=1.2, baseline=None)
        _bounds(ax, ocp.u_lo[j], ocp.u_hi[j], "-", "hard bound")
        ax.set_ylabel(_label(inp.name, inp.unit), fontsize=8)
    ax = axes[panels - 1]
    ax.plot(t_steps, np.asarray(result.solve_time) * 1e6, color="tab:purple", marker=".", linewidth=0.8)
    ax.set_ylabel("solve time [\u00b5s]", fontsize=8)
    ax.set_ylim(bottom=0)
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax in axes[:panels]:
        ax.tick_params(labelsize=7)
        ax.grid(True, linewidth=0.3)
    for c in range(columns):  # time axis under the last panel of each column
        in_column = min(rows, panels - c * rows)
        if in_column > 0:
            axes[c * rows + in_column - 1].set_xlabel("t [s]", fontsize=8)
            axes[c * rows + in_column - 1].xaxis.set_tick_params(labelbottom=True)
    axes[0].legend(fontsize=7, loc="best")  # reference (and soft bound, if the first state has one)
    axes[model.nx].legend(fontsize=7, loc="best")  # hard bound

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(handle)
    try:
        figure.savefig(temporary, format="png", dpi=100)
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"cannot write the plot {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path
