"""A closed-loop scenario, the run a controller is judged on, and the uncertainty a
robustness campaign draws around it."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MpcgenError


#: how a campaign draws each plant parameter: uniformly over its range, normally about its
#: nominal value (standard deviation a quarter of the range, so the range is +-2 sigma),
#: or not at all (every sample at the nominal value)
DISTRIBUTIONS = ("uniform", "normal", "nominal")


@dataclass(frozen=True)
class Uncertainty:
    """What a robustness campaign (:func:`mpcgen.campaign`) draws for each sample.

    ``distribution`` (one of DISTRIBUTIONS) applies to every plant parameter named in
    ``vary`` (None: every parameter; the others stay nominal), over its declared range
    ``Var.lo..hi`` unless ``ranges`` names it: (name, lo, hi) triples that replace a
    declared range (lo == hi pins a parameter). ``x0_std`` is the standard
    deviation of a Gaussian perturbation of the scenario's initial state, per state;
    ``noise_std`` the measurement noise per state (None: the scenario's). The controller
    is told none of it: its model keeps the nominal parameters.
    """

    distribution: str = "uniform"
    ranges: tuple[tuple[str, float, float], ...] = ()
    x0_std: tuple[float, ...] | None = None
    noise_std: tuple[float, ...] | None = None
    vary: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.vary is not None:
            object.__setattr__(self, "vary", tuple(str(name) for name in self.vary))
        if self.distribution not in DISTRIBUTIONS:
            raise MpcgenError(f"uncertainty: distribution must be one of {', '.join(DISTRIBUTIONS)}, "
                              f"got {self.distribution!r}")
        ranges = []
        for entry in self.ranges:
            try:
                name, lo, hi = entry
                lo, hi = float(lo), float(hi)
            except (TypeError, ValueError):
                raise MpcgenError(f"uncertainty: a range is (parameter name, lo, hi), got {entry!r}") from None
            if not lo <= hi:
                raise MpcgenError(f"uncertainty: range of {name!r} has lo {lo:g} above hi {hi:g}")
            ranges.append((str(name), lo, hi))
        object.__setattr__(self, "ranges", tuple(ranges))
        for label in ("x0_std", "noise_std"):
            value = getattr(self, label)
            if value is not None:
                value = tuple(float(v) for v in value)
                if any(not v >= 0 for v in value):
                    raise MpcgenError(f"uncertainty: {label} must be standard deviations >= 0, got {value}")
                object.__setattr__(self, label, value)


@dataclass(frozen=True)
class Scenario:
    """A closed-loop run of an example: where the plant starts, for how long, what disturbs it.

    ``p_true`` are the plant's parameters from the start (None: nominal, no mismatch);
    ``disturbance`` lists parameter changes (k, p): from sample k on the plant runs with
    p. The controller is told neither. ``noise_std`` is the standard deviation of the
    Gaussian measurement noise per state (None: exact measurements). All vectors are
    stored as tuples of floats, so a scenario is immutable and hashable. Run one with
    :func:`mpcgen.runs.simulate.simulate_scenario`. ``uncertainty`` is what a campaign
    around this scenario draws (None: every parameter uniform over its range).
    """

    description: str
    x0: tuple[float, ...]
    steps: int
    p_true: tuple[float, ...] | None = None
    disturbance: tuple[tuple[int, tuple[float, ...]], ...] = ()
    noise_std: tuple[float, ...] | None = None
    uncertainty: Uncertainty | None = None

    def __post_init__(self) -> None:
        def floats(v):
            return None if v is None else tuple(float(c) for c in v)

        object.__setattr__(self, "x0", floats(self.x0))
        object.__setattr__(self, "p_true", floats(self.p_true))
        object.__setattr__(self, "noise_std", floats(self.noise_std))
        object.__setattr__(self, "disturbance", tuple((int(k), floats(p)) for k, p in self.disturbance))
        if not isinstance(self.steps, int) or self.steps < 1:
            raise MpcgenError(f"scenario: steps must be a positive integer, got {self.steps!r}")
        for k, _ in self.disturbance:
            if not 0 <= k < self.steps:
                raise MpcgenError(f"scenario: disturbance at sample {k} is outside 0..{self.steps - 1}")
