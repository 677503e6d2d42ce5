"""A closed-loop scenario, the run a controller is judged on, and the uncertainty a
robustness campaign draws around it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

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
    """A closed-loop run: where the plant starts, for how long, what it should track and
    what disturbs it. Declared by an example, or in a model file as ``FUNCTION_scenario(model)``
    (else ``scenario(model)``) next to the OCP.

    ``p_true`` are the plant's parameters from the start (None: nominal, no mismatch);
    ``disturbance`` lists parameter changes (k, p): from sample k on the plant runs with
    p. ``pushes`` lists state disturbances (k, dx): just before sample k is measured, the
    plant's state jumps by dx (a push, a gust). The controller is told neither.
    ``noise_std`` is the standard deviation of the Gaussian measurement noise, one per
    state or one for all (None: exact measurements).

    What the controller tracks (it is told): ``reference_steps`` lists (k, x_ref): from
    sample k on, every stage's state reference is x_ref (before the first step: the
    OCP's). ``reference`` is a trajectory instead, a function of time t [s] returning the
    state reference: at sample k the controller gets it over its horizon, stage j at
    t_k + j Ts (``set_x_ref_trajectory``). Give one of the two at most.

    ``uncertainty`` is what a campaign around this scenario draws (None: every parameter
    uniform over its range). All vectors are stored as tuples of floats, so a scenario is
    immutable and hashable. Run one with :func:`mpcgen.runs.simulate.simulate_scenario`
    or ``mpcgen simulate``.
    """

    description: str
    x0: tuple[float, ...]
    steps: int
    p_true: tuple[float, ...] | None = None
    disturbance: tuple[tuple[int, tuple[float, ...]], ...] = ()
    noise_std: tuple[float, ...] | None = None
    reference_steps: tuple[tuple[int, tuple[float, ...]], ...] = ()
    reference: Callable[[float], Sequence[float]] | None = None
    pushes: tuple[tuple[int, tuple[float, ...]], ...] = ()
    uncertainty: Uncertainty | None = None

    def __post_init__(self) -> None:
        def floats(v, what):
            if v is None:
                return None
            try:
                out = tuple(float(c) for c in (v if isinstance(v, (list, tuple)) or hasattr(v, "__len__") else (v,)))
            except (TypeError, ValueError):
                raise MpcgenError(f"scenario: {what} must be numbers, got {v!r}") from None
            if not all(math.isfinite(c) for c in out):
                raise MpcgenError(f"scenario: {what} must be finite, got {list(out)}")
            return out

        if not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1:
            raise MpcgenError(f"scenario: steps must be a positive integer, got {self.steps!r}")
        object.__setattr__(self, "x0", floats(self.x0, "x0"))
        object.__setattr__(self, "p_true", floats(self.p_true, "p_true"))
        object.__setattr__(self, "noise_std", floats(self.noise_std, "noise_std"))
        if self.noise_std is not None and min(self.noise_std, default=0.0) < 0:
            raise MpcgenError(f"scenario: noise_std must be >= 0, got {list(self.noise_std)}")
        for field in ("disturbance", "reference_steps", "pushes"):
            events = []
            for event in getattr(self, field):
                try:
                    k, v = event
                except (TypeError, ValueError):
                    raise MpcgenError(f"scenario: {field} entries are (sample, values) pairs, got {event!r}") from None
                if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < self.steps:
                    raise MpcgenError(f"scenario: {field} at sample {k!r} is outside 0..{self.steps - 1}")
                events.append((k, floats(v, f"{field} at sample {k}")))
            object.__setattr__(self, field, tuple(sorted(events, key=lambda e: e[0])))
        if self.reference is not None and not callable(self.reference):
            raise MpcgenError(f"scenario: reference must be a function of time t returning x_ref, "
                              f"got {type(self.reference).__name__}")
        if self.reference is not None and self.reference_steps:
            raise MpcgenError("scenario: give reference_steps or a reference trajectory, not both")

    def check(self, nx: int, np_: int, state_names: Sequence[str] = ()) -> None:
        """Check the sizes against a model with nx states and np_ parameters."""
        def size(what, v, n, of):
            if v is not None and len(v) != n and not (what == "noise_std" and len(v) == 1):
                raise MpcgenError(f"scenario: {what} has {len(v)} entries, the model has {n} {of}")

        size("x0", self.x0, nx, "states")
        size("p_true", self.p_true, np_, "parameters")
        size("noise_std", self.noise_std, nx, "states (or give one value for all)")
        for k, v in self.disturbance:
            size(f"disturbance at sample {k}", v, np_, "parameters")
        for k, v in self.reference_steps:
            size(f"reference_steps at sample {k}", v, nx, "states")
        for k, v in self.pushes:
            size(f"pushes at sample {k}", v, nx, "states")

    def x_ref_at(self, t: float, nx: int) -> tuple[float, ...]:
        """The reference trajectory at time t, checked (needs ``reference``)."""
        try:
            value = tuple(float(c) for c in self.reference(t))
        except Exception as exc:  # noqa: BLE001 - the user's function: say what it raised
            raise MpcgenError(f"scenario: reference({t:g}) raised {type(exc).__name__}: {exc}") from None
        if len(value) != nx or not all(math.isfinite(c) for c in value):
            raise MpcgenError(f"scenario: reference({t:g}) must return {nx} finite numbers, got {list(value)}")
        return value
