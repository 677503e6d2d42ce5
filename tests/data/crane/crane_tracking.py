"""The crane of crane.py tracking a moving reference: the cart follows a slow sine while the
rope shortens, given as a trajectory the controller previews over its horizon."""

import math

from crane import TS, crane_ocp
from crane import crane as tracking

from mpcgen import Scenario

__all__ = ["TS", "tracking", "tracking_ocp", "tracking_scenario"]

tracking_ocp = crane_ocp


def tracking_scenario(model) -> Scenario:
    def x_ref(t: float):
        return (0.5 * math.sin(0.5 * t), 0.25 * math.cos(0.5 * t), 1.2, 0.0, 0.0, 0.0)

    return Scenario("cart follows 0.5 sin(0.5 t) m, rope at 1.2 m", x0=(0.0, 0.25, 1.2, 0.0, 0.0, 0.0),
                    steps=200, reference=x_ref)
