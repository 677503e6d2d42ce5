"""The draws of a robustness campaign: one sample's plant from (campaign seed, index).

Sample ``i`` of a campaign with seed ``s`` draws from numpy's
``default_rng(SeedSequence([s, i]))``, always in the same order: the plant parameters
(one number each), the initial-state perturbation (one per state), then the seed of the
measurement noise. A sample therefore depends only on (s, i) and the
:class:`~mpcgen.problem.scenario.Uncertainty`, never on the worker that draws it, the
number of workers or the order in which samples run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OptionsError
from ..problem.model import Model
from ..problem.scenario import Uncertainty


@dataclass(frozen=True)
class Sample:
    """One drawn plant: its parameters, where it starts, the seed of its sensor noise."""

    index: int
    p: np.ndarray
    x0: np.ndarray
    noise_seed: int


def parameter_ranges(model: Model, uncertainty: Uncertainty) -> list[tuple[float, float, float]]:
    """(lo, hi, centre) per model parameter: the declared range and nominal value, or the
    uncertainty's range for it (centre: its middle); the nominal value three times for a
    parameter that does not vary. OptionsError for an unknown name."""
    names = [v.name for v in model.parameters]
    known = ", ".join(names) if names else "none"
    given = {}
    for name, lo, hi in uncertainty.ranges:
        if name not in names:
            raise OptionsError(f"uncertainty: model {model.name!r} has no parameter {name!r} (parameters: {known})")
        given[name] = (lo, hi, 0.5 * (lo + hi))
    for name in uncertainty.vary or ():
        if name not in names:
            raise OptionsError(f"uncertainty: vary names {name!r}, not a parameter of model {model.name!r} "
                               f"(parameters: {known})")
    out = []
    for v in model.parameters:
        if uncertainty.vary is not None and v.name not in uncertainty.vary:
            out.append((v.nominal_value, v.nominal_value, v.nominal_value))
        else:
            out.append(given.get(v.name, (v.lo, v.hi, v.nominal_value)))
    return out


def _per_state(values: tuple[float, ...] | None, model: Model, label: str) -> np.ndarray:
    if values is None:
        return np.zeros(model.nx)
    a = np.asarray(values, float)
    if a.size == 1:
        return np.full(model.nx, a[0])
    if a.size != model.nx:
        raise OptionsError(f"uncertainty: {label} has {a.size} entries, model {model.name!r} has {model.nx} states")
    return a


def check_uncertainty(model: Model, uncertainty: Uncertainty) -> None:
    """OptionsError unless the uncertainty fits the model (names, sizes)."""
    parameter_ranges(model, uncertainty)
    _per_state(uncertainty.x0_std, model, "x0_std")
    _per_state(uncertainty.noise_std, model, "noise_std")


def draw(model: Model, x0, uncertainty: Uncertainty, seed: int, index: int) -> Sample:
    """Sample ``index`` of the campaign ``seed`` around the initial state ``x0``."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))
    ranges = parameter_ranges(model, uncertainty)
    lo = np.array([r[0] for r in ranges])
    hi = np.array([r[1] for r in ranges])
    centre = np.array([r[2] for r in ranges])
    if uncertainty.distribution == "uniform":
        p = lo + (hi - lo) * rng.random(model.np)
    elif uncertainty.distribution == "normal":
        p = centre + 0.25 * (hi - lo) * rng.standard_normal(model.np)
    else:
        rng.random(model.np)   # the same stream position for the draws that follow
        p = centre
    start = np.asarray(x0, float) + _per_state(uncertainty.x0_std, model, "x0_std") * rng.standard_normal(model.nx)
    return Sample(int(index), p, start, int(rng.integers(0, 2**63 - 1)))


def noise_std(model: Model, uncertainty: Uncertainty, scenario_noise) -> np.ndarray | None:
    """The measurement noise of every sample: the uncertainty's, else the scenario's."""
    if uncertainty.noise_std is not None:
        return _per_state(uncertainty.noise_std, model, "noise_std")
    return None if scenario_noise is None else np.asarray(scenario_noise, float)
