"""A closed-loop scenario, the run a controller is judged on."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MpcgenError


@dataclass(frozen=True)
class Scenario:
    """A closed-loop run of an example: where the plant starts, for how long, what disturbs it.

    ``p_true`` are the plant's parameters from the start (None: nominal, no mismatch);
    ``disturbance`` lists parameter changes (k, p): from sample k on the plant runs with
    p. The controller is told neither. ``noise_std`` is the standard deviation of the
    Gaussian measurement noise per state (None: exact measurements). All vectors are
    stored as tuples of floats, so a scenario is immutable and hashable. Run one with
    :func:`mpcgen.runs.simulate.simulate_scenario`.
    """

    description: str
    x0: tuple[float, ...]
    steps: int
    p_true: tuple[float, ...] | None = None
    disturbance: tuple[tuple[int, tuple[float, ...]], ...] = ()
    noise_std: tuple[float, ...] | None = None

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
