"""Plots of a closed loop: states, inputs and controller time, one PNG, PDF or SVG.

matplotlib is an optional dependency (``pip install 'mpcgen[plot]'``), imported only
when a plot is made. The figure is drawn with the Agg backend directly (no pyplot, no
global backend switch), so plotting works headless and leaves the caller's matplotlib
state alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import MpcgenError, OptionsError
from ..problem.model import Model
from ..problem.ocp import CheckedOcp
from .output import write_atomically
from .simulate import SimResult

#: image formats by file extension (matplotlib writes each natively)
FORMATS = ("png", "pdf", "svg")

#: Subplots per column before another column is started.
ROWS_PER_COLUMN = 8


def _matplotlib():
    """(Figure, FigureCanvasAgg), or a one-line error naming the extra to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError:
        raise MpcgenError("plotting needs matplotlib: pip install 'mpcgen[plot]'") from None
    return Figure, FigureCanvasAgg, Line2D


def _label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else name


def _bounds(ax, lo: float, hi: float, style: str) -> None:
    for value in (lo, hi):
        if math.isfinite(value):
            ax.axhline(value, color="tab:red", linestyle=style, linewidth=0.8)


def check_plot_path(path) -> Path:
    """``path`` as a Path if its extension is an image format matplotlib writes, else one error."""
    path = Path(path)
    if path.suffix.lower().lstrip(".") not in FORMATS:
        raise OptionsError(f"--plot {path}: unknown image format {path.suffix or '(no extension)'!r}; "
                           f"use one of {', '.join('.' + f for f in FORMATS)}")
    return path


def plot_closed_loop(result: SimResult, model: Model, ocp: CheckedOcp, path, title: str | None = None,
                     x_ref: np.ndarray | None = None) -> tuple[Path, bool]:
    """Plot ``result`` to ``path`` (PNG, PDF or SVG, by its extension): one subplot per state
    (with the reference, dashed, and its bounds where finite: soft dotted, hard solid), per
    input (as applied, held over each sample, with its hard bounds) and the controller's time per
    step in microseconds. ``x_ref`` (steps x nx): the reference tracked at each sample,
    when it changed over the run (default: the OCP's).

    Returns the path written and whether its folder had to be created. The file is
    written atomically (:mod:`mpcgen.runs.output`).
    """
    path = check_plot_path(path)
    fmt = path.suffix.lower().lstrip(".")
    Figure, FigureCanvasAgg, Line2D = _matplotlib()
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
        if x_ref is not None and len(t_steps) and np.ptp(x_ref[:, i]) > 0:
            ax.stairs(x_ref[:, i], t, color="black", linestyle="--", linewidth=0.8, baseline=None)
        else:
            ax.axhline(ocp.x_ref[i] if x_ref is None else x_ref[0, i], color="black", linestyle="--", linewidth=0.8)
        _bounds(ax, ocp.x_lo[i], ocp.x_hi[i], "-" if i in ocp.x_hard else ":")
        ax.set_ylabel(_label(state.name, state.unit), fontsize=8)
    for j, inp in enumerate(model.inputs):
        ax = axes[model.nx + j]
        if len(t_steps):
            # u_k acts from t_k to t_{k+1}: a staircase ending at the last sample
            ax.stairs(result.U[:, j], t, color="tab:green", linewidth=1.2, baseline=None)
        _bounds(ax, ocp.u_lo[j], ocp.u_hi[j], "-")
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
    # one legend for the figure: every kind of line drawn, the soft bounds included
    bounded = np.isfinite(ocp.x_lo) | np.isfinite(ocp.x_hi)
    soft = bool(any(bounded[i] for i in range(model.nx) if i not in ocp.x_hard))
    hard = "hard bound" if ocp.x_hard else "hard input bound"
    handles = [Line2D([], [], color="black", linestyle="--", linewidth=0.8, label="reference"),
               *([Line2D([], [], color="tab:red", linestyle=":", linewidth=0.8, label="soft state bound")] if soft else []),
               Line2D([], [], color="tab:red", linestyle="-", linewidth=0.8, label=hard)]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)

    created = write_atomically(path, lambda name: figure.savefig(name, format=fmt, dpi=100))
    return path, created
