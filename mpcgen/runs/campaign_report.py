"""The report of a robustness campaign: a summary table and histograms.

The summary gives the success rate with its 95 % Wilson score interval (sound for rates
near 0 or 1 and for small campaigns, unlike the normal approximation), the outcomes by
kind, quantiles of the cost, the distance to the reference, the violations, the QP
iterations and the step time, what the engine cost, and the worst samples with their
drawn parameters: which corner of the parameter space breaks the controller.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import OptionsError
from .output import write_atomically
from .plot import _matplotlib, check_plot_path

#: the two-sided 95 % normal quantile
Z95 = 1.959963984540054
QUANTILES = (0.5, 0.9, 0.99, 1.0)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial rate (lo, hi); (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _column(result, name: str) -> np.ndarray:
    return np.asarray(result.table.column(name).to_numpy(zero_copy_only=False), dtype=float)


def _uncertainty_line(result) -> str:
    from .sampling import parameter_ranges

    u = result.spec.uncertainty
    ranges = parameter_ranges(result.model, u)
    params = ", ".join(f"{v.name} [{lo:.4g}, {hi:.4g}]" for v, (lo, hi, _) in zip(result.model.parameters, ranges)
                       if hi > lo)
    if params and len(_varied(result)) < result.model.np:
        params += " (the others fixed)"
    how = {"uniform": "uniform over", "normal": "normal (range = +-2 sigma) over",
           "nominal": "at the centre of"}[u.distribution]
    extra = []
    if u.x0_std is not None:
        extra.append(f"x0 std {list(u.x0_std)}")
    if u.noise_std is not None:
        extra.append(f"noise std {list(u.noise_std)}")
    return f"  plant parameters {how} {params or '(none)'}" + (f"; {'; '.join(extra)}" if extra else "")


def summary(result, worst: int = 10) -> str:
    """The campaign's summary table as text."""
    t, spec = result.table, result.spec
    n = t.num_rows
    success = np.asarray(t.column("success").to_pylist(), dtype=bool)
    k = int(success.sum())
    lo, hi = wilson_interval(k, n)
    outcomes = Counter(t.column("outcome").to_pylist())
    lines = [
        f"campaign: {result.model.name}, {n} samples (seed {spec.seed}), {spec.steps} steps each",
        _uncertainty_line(result),
        f"  success (settled within |x - x_ref|_Q <= {spec.settle_tol:g} over the last "
        f"{spec.settle_window:.0%}, no failing status): {k} of {n} = {k / max(n, 1):.1%} "
        f"(95 % Wilson interval {lo:.1%} .. {hi:.1%})",
        "  outcomes: " + ", ".join(f"{name} {count}" for name, count in outcomes.most_common()),
        "",
        f"  {'quantile':<26}" + "".join(f"{'max' if q == 1 else f'p{q * 100:g}':>12}" for q in QUANTILES),
    ]
    for label, name in (("closed-loop cost", "cost"), ("distance to x_ref (Q)", "settle_distance"),
                        ("input violation (range)", "input_violation"), ("soft violation (range)", "soft_violation"),
                        ("QP iterations, max", "qp_iterations_max"), ("step time p99 [us]", "step_time_p99_us")):
        values = _column(result, name)
        values = values[np.isfinite(values) & (values >= 0)]
        cells = "".join(f"{v:>12.4g}" for v in np.quantile(values, QUANTILES)) if values.size else f"{'-':>12}" * 4
        lines.append(f"  {label:<26}{cells}")
    tm = result.timing
    if tm.ran:
        lines += ["", f"  time: {tm.ran} runs in {tm.wall_s:.1f} s on {tm.workers} worker(s), {tm.runs_per_s:.1f} runs/s; "
                      f"{tm.tasks} tasks of {tm.batch}; engine overhead {tm.overhead:.1%} of the simulation time "
                      f"(not counting the workers' setup, {tm.setup_s / tm.workers:.1f} s each: compile or cache)"]
    elif result.output is not None:
        lines += ["", f"  every sample was already in {result.output}: nothing to run"]
    lines += ["", *worst_table(result, worst)]
    return "\n".join(lines)


def _varied(result) -> list[str]:
    """The parameters the campaign draws (a range wider than a point)."""
    from .sampling import parameter_ranges

    ranges = parameter_ranges(result.model, result.spec.uncertainty)
    return [v.name for v, (lo, hi, _) in zip(result.model.parameters, ranges) if hi > lo]


def worst_table(result, count: int = 10) -> list[str]:
    """The ``count`` worst samples (failures first, then by cost) with their drawn parameters."""
    t = result.table
    names = _varied(result)
    cost = _column(result, "cost")
    distance = _column(result, "settle_distance")
    success = np.asarray(t.column("success").to_pylist(), dtype=bool)
    order = sorted(range(t.num_rows), key=lambda i: (success[i], -np.nan_to_num(cost[i], nan=np.inf)))[:count]
    index = t.column("index").to_pylist()
    outcome = t.column("outcome").to_pylist()
    params = {name: _column(result, f"p_{name}") for name in names}
    head = f"  {'index':>7}  {'outcome':<24}{'cost':>11}{'dist Q':>10}" + "".join(f"{n:>11}" for n in names)
    rows = [f"  worst {len(order)} (failures first, then the largest cost); replay one with --replay INDEX", head]
    for i in order:
        rows.append(f"  {index[i]:>7}  {outcome[i][:23]:<24}{cost[i]:>11.4g}{distance[i]:>10.3g}"
                    + "".join(f"{params[n][i]:>11.5g}" for n in names))
    return rows


def plot_campaign(result, path, plane: tuple[str, str] | None = None) -> Path:
    """A PNG, PDF or SVG (by the extension): histograms of the closed-loop cost and of the step time p99, and success over
    the plane of two parameters (default: the first two)."""
    path = check_plot_path(path)
    Figure, FigureCanvasAgg, _ = _matplotlib()
    from matplotlib.ticker import NullFormatter

    names = [v.name for v in result.model.parameters]
    if plane is None and len(names) >= 2:
        plane = (names[0], names[1])
    for name in plane or ():
        if name not in names:
            raise OptionsError(f"--plane: model {result.model.name!r} has no parameter {name!r} "
                               f"(parameters: {', '.join(names) or 'none'})")
    panels = 3 if plane else 2
    figure = Figure(figsize=(4.2 * panels, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels)
    figure.suptitle(f"{result.model.name}: campaign of {result.table.num_rows} samples (seed {result.spec.seed})")
    cost = _column(result, "cost")
    cost = cost[np.isfinite(cost) & (cost > 0)]
    if cost.size:
        bins = np.geomspace(cost.min(), cost.max() * 1.0001, 30) if cost.max() > cost.min() else 10
        axes[0].hist(cost, bins=bins, color="tab:blue")
        axes[0].set_xscale("log")
        axes[0].xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_xlabel("closed-loop cost")
    axes[0].set_ylabel("samples")
    step = _column(result, "step_time_p99_us")
    step = step[np.isfinite(step)]
    if step.size:
        axes[1].hist(step, bins=30, color="tab:purple")
    axes[1].set_xlabel("host step time p99 [\u00b5s]")
    if plane:
        success = np.asarray(result.table.column("success").to_pylist(), dtype=bool)
        a, b = _column(result, f"p_{plane[0]}"), _column(result, f"p_{plane[1]}")
        axes[2].scatter(a[success], b[success], s=8, color="tab:green", label="success")
        axes[2].scatter(a[~success], b[~success], s=14, color="tab:red", marker="x", label="failure")
        axes[2].set_xlabel(plane[0])
        axes[2].set_ylabel(plane[1])
        axes[2].legend(fontsize=7, loc="best")
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.grid(True, linewidth=0.3)
    write_atomically(path, lambda name: figure.savefig(name, format=path.suffix.lower().lstrip("."), dpi=100))
    return path
