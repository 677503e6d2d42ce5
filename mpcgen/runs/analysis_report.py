"""What ``mpcgen analyze`` found (:mod:`.analyze` computes it): directions, points,
singularities, the KKT scaling, and the report as a table, JSON and a PNG."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..problem.model import Model
from .output import write_atomically
from .plot import _matplotlib, check_plot_path
from .propagation import Propagation

#: a Jacobian whose smallest structural singular value falls below this fraction of its
#: largest is reported as singular
SINGULAR = 1e-6


def half_ranges(group) -> np.ndarray:
    """Half the declared range of each variable: the range scaling of the analysis."""
    return np.array([(v.hi - v.lo) / 2 for v in group], float)


@dataclass(frozen=True)
class Direction:
    """A unit direction in named variables, with its singular value (range-scaled units)."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    sigma: float
    relative: float     # sigma / the largest singular value of the same matrix

    def combination(self) -> str:
        """e.g. '0.71·v + 0.71·omega' (entries of at least 0.1, largest first, largest positive)."""
        w = np.array(self.weights)
        w = w * (1.0 if w[np.argmax(np.abs(w))] >= 0 else -1.0)
        order = [i for i in np.argsort(-np.abs(w)) if abs(w[i]) >= 0.1]
        text = ""
        for n, i in enumerate(order):
            sign = "-" if w[i] < 0 else ("" if n == 0 else "+")
            text += f"{' ' if n else ''}{sign}{' ' if n and sign else ''}{abs(w[i]):.2f}·{self.names[i]}"
        return text

    def to_json(self) -> dict:
        return {"names": list(self.names), "weights": list(self.weights), "sigma": self.sigma,
                "relative": self.relative, "combination": self.combination()}


@dataclass(frozen=True)
class PointAnalysis:
    """Singular values at one point (x, u): raw for A and B, range-scaled for the horizon matrices."""

    label: str
    x: tuple[float, ...]
    u: tuple[float, ...]
    sv_A: np.ndarray
    sv_B: np.ndarray
    sv_ctrb: np.ndarray
    weak_control: Direction          # the state direction the inputs barely move over the horizon
    weak_input: Direction | None     # the input combination that barely moves the state (nu > 1)
    sv_obsv: np.ndarray | None = None
    weak_observe: Direction | None = None   # the state direction the sensors barely see over the horizon

    def to_json(self) -> dict:
        return {"label": self.label, "x": list(self.x), "u": list(self.u), "sv_A": self.sv_A.tolist(),
                "sv_B": self.sv_B.tolist(), "sv_ctrb": self.sv_ctrb.tolist(),
                "cond_A": _cond(self.sv_A), "cond_B": _cond(self.sv_B), "cond_ctrb": _cond(self.sv_ctrb),
                "weak_control": self.weak_control.to_json(),
                "weak_input": self.weak_input.to_json() if self.weak_input else None,
                "sv_obsv": None if self.sv_obsv is None else self.sv_obsv.tolist(),
                "cond_obsv": None if self.sv_obsv is None else _cond(self.sv_obsv),
                "weak_observe": self.weak_observe.to_json() if self.weak_observe else None}


def _cond(sv: np.ndarray) -> float:
    return float(sv[0] / sv[-1]) if sv.size and sv[-1] > 0 else math.inf


@dataclass(frozen=True)
class Singularity:
    """Where a Jacobian comes closest to losing rank in the declared ranges."""

    function: str                    # which Jacobian
    point: dict[str, float]          # the variables it depends on, at the worst point found
    rank: int                        # its rank at generic points
    ratio: float                     # sigma_rank / sigma_1 there
    lost: Direction                  # the row-space direction it cannot produce there

    @property
    def singular(self) -> bool:
        return self.ratio < SINGULAR

    def line(self) -> str:
        where = ", ".join(f"{n} = {v:.4g}" for n, v in self.point.items())
        of = "σ_1/(its largest over the ranges)" if self.rank == 1 else f"σ_{self.rank}/σ_1"
        if self.singular:
            return (f"{self.function} loses rank at {where} ({of} = {self.ratio:.1e}): it cannot "
                    f"move along {self.lost.combination()} there")
        return f"{self.function}: no singular configuration in the ranges (closest: {of} = {self.ratio:.2g} at {where})"

    def to_json(self) -> dict:
        return {"function": self.function, "point": self.point, "rank": self.rank, "ratio": self.ratio,
                "singular": self.singular, "lost": self.lost.to_json(), "line": self.line()}


@dataclass(frozen=True)
class Scaling:
    """The QP's KKT matrix at the reference, before and after the diagonal scaling from the ranges."""

    x_scale: tuple[float, ...]
    u_scale: tuple[float, ...]
    cond_kkt: float
    cond_kkt_scaled: float
    cond_kkt_equilibrated: float     # Ruiz equilibration of the same matrix: what a diagonal scaling can reach

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Analysis:
    """Everything ``mpcgen analyze`` reports; ``table()``, ``to_json()``, ``plot(path)``."""

    model: Model
    ts: float
    N: int
    points: tuple[PointAnalysis, ...]
    singularities: tuple[Singularity, ...]
    scaling: Scaling | None
    propagation: Propagation | None
    trajectory: tuple[PointAnalysis, ...] = field(default=())

    def findings(self) -> list[str]:
        """The weak directions, singularities and first-order breaks, one sentence each."""
        out = []
        for pt in self.points:
            d = pt.weak_control
            out.append(f"{pt.label}: inputs barely move {d.combination()} (σ = {d.sigma:.2g}, "
                       f"{d.relative:.1e} of the largest)")
            if pt.weak_input is not None and pt.weak_input.relative < 1e-3:
                out.append(f"{pt.label}: inputs {pt.weak_input.combination()} barely move the state "
                           f"(σ = {pt.weak_input.sigma:.2g})")
            if pt.weak_observe is not None:
                d = pt.weak_observe
                out.append(f"{pt.label}: sensors barely see {d.combination()} (σ = {d.sigma:.2g}, "
                           f"{d.relative:.1e} of the largest)")
        return out

    def table(self) -> str:
        m = self.model
        lines = [f"analyze {m.name}: Ts = {self.ts:g} s, horizon N = {self.N} ({self.N * self.ts:g} s); "
                 "ctrb/obsv and directions range-scaled (each variable over half its declared range)"]
        head = f"{'point':<24} {'σ(A) max':>9} {'σ(A) min':>9} {'cond(A)':>9} {'cond(B)':>9} " \
               f"{'ctrb σmax':>9} {'ctrb σmin':>9} {'cond ctrb':>9} {'cond obsv':>9}"
        lines += [head, "-" * len(head)]
        rows = list(self.points)
        if self.trajectory:
            worst = max(self.trajectory, key=lambda p: _cond(p.sv_ctrb))
            rows.append(PointAnalysis(f"closed loop worst ({len(self.trajectory)})", worst.x, worst.u,
                                      worst.sv_A, worst.sv_B, worst.sv_ctrb, worst.weak_control, None,
                                      worst.sv_obsv, worst.weak_observe))
        for p in rows:
            obsv = f"{_cond(p.sv_obsv):9.3g}" if p.sv_obsv is not None else f"{'-':>9}"
            lines.append(f"{p.label[:24]:<24} {p.sv_A[0]:9.3g} {p.sv_A[-1]:9.3g} {_cond(p.sv_A):9.3g} "
                         f"{_cond(p.sv_B):9.3g} {p.sv_ctrb[0]:9.3g} {p.sv_ctrb[-1]:9.3g} {_cond(p.sv_ctrb):9.3g} {obsv}")
        lines += ["weak directions"] + [f"  {s}" for s in self.findings()]
        lines += ["singular configurations"] + [f"  {s.line()}" for s in self.singularities]
        if self.scaling is not None:
            s = self.scaling
            effect = (f"{s.cond_kkt / s.cond_kkt_scaled:.3g}x better" if s.cond_kkt_scaled <= s.cond_kkt
                      else f"{s.cond_kkt_scaled / s.cond_kkt:.3g}x worse: the weights, not the units, spread it")
            lines += ["scaling from the declared ranges (x and u over half their range)",
                      f"  QP KKT condition number at the reference: {s.cond_kkt:.3g} unscaled, "
                      f"{s.cond_kkt_scaled:.3g} range-scaled ({effect}); Ruiz-equilibrated {s.cond_kkt_equilibrated:.3g}"]
        if self.propagation is not None:
            pr = self.propagation
            lines += [f"uncertainty propagation over {(pr.mean.shape[0] - 1) * pr.ts:g} s, first order against "
                      f"{pr.samples} Monte-Carlo runs of the nonlinear model"]
            lines += [f"  {s}" for s in pr.findings()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"model": self.model.name, "ts": self.ts, "N": self.N,
                "points": [p.to_json() for p in self.points],
                "trajectory": [p.to_json() for p in self.trajectory],
                "singularities": [s.to_json() for s in self.singularities],
                "scaling": self.scaling.to_json() if self.scaling else None,
                "propagation": self.propagation.to_json() if self.propagation else None,
                "findings": self.findings()}


def plot_analysis(analysis: Analysis, path) -> "Path":
    """PNG, PDF or SVG (by the extension): the singular values along the closed loop (or at the
    analysed points), and the propagated against the sampled spread of every state (over
    half its range). Written atomically, drawn without pyplot (see :mod:`.plot`)."""
    path = check_plot_path(path)
    Figure, FigureCanvasAgg, _ = _matplotlib()
    fig = Figure(figsize=(9, 7))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1)
    pts = analysis.trajectory or analysis.points
    xs = np.arange(len(pts))
    for label, values in (("σ_max(A)", [p.sv_A[0] for p in pts]), ("σ_min(A)", [p.sv_A[-1] for p in pts]),
                          ("σ_max(ctrb)", [p.sv_ctrb[0] for p in pts]), ("σ_min(ctrb)", [p.sv_ctrb[-1] for p in pts])):
        top.semilogy(xs, values, marker=".", label=label)
    if any(p.sv_obsv is not None for p in pts):
        top.semilogy(xs, [p.sv_obsv[-1] if p.sv_obsv is not None else np.nan for p in pts], marker=".",
                     label="σ_min(obsv)")
    top.set_xticks(xs, [p.label.replace("closed loop ", "") for p in pts], rotation=60, fontsize=7)
    top.set_title(f"{analysis.model.name}: singular values " + ("along the closed loop" if analysis.trajectory
                                                               else "at the analysed points"))
    top.legend(fontsize=7)
    pr = analysis.propagation
    if pr is not None:
        t = pr.ts * np.arange(pr.mean.shape[0])
        scale = half_ranges(analysis.model.states)
        for i, name in enumerate(pr.states):
            line, = bottom.semilogy(t, pr.std_linear[:, i] / scale[i], label=f"{name} linear")
            bottom.semilogy(t, pr.std_sampled[:, i] / scale[i], "--", color=line.get_color())
        bottom.set_xlabel("time [s]")
        bottom.set_ylabel("std / half range (solid: linear, dashed: Monte-Carlo)")
        bottom.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    write_atomically(path, lambda name: fig.savefig(name, format=path.suffix.lower().lstrip("."), dpi=110))
    return path
