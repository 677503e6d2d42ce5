"""Example plants: a registry of literature models, addressed by name.

``get_example("pendulum")`` builds an example; a sized example takes its size after a
colon, ``get_example("chain:12")``, and is then named with the size appended
(``chain12``) so that its C prefix differs from the default build (``chain``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ...errors import SourceError
from ..model import Model
from ..scenario import Scenario
from . import chain, cstr, pendulum, quadrotor, robot_arm


@dataclass(frozen=True)
class Example:
    """One registered plant and how to build it."""

    name: str                 # registry key, also the C prefix of the default build
    summary: str              # one line for `mpcgen examples`
    ts: float                 # default sample time [s] for discretization
    build: Callable[..., Model]   # returns a fresh Model; sized examples take the size
    size_name: str | None = None  # e.g. "masses" for the chain; None if not sized
    default_size: int | None = None
    size_range: tuple[int, int] | None = None  # inclusive (smallest, largest) size
    #: the example's optimal-control problem (mpcgen.problem.ocp.Ocp) for a built model: nonlinear
    #: outputs and constraints use that model's symbols, and a sized model fixes the size
    ocp: Callable[[Model], object] | None = None
    #: the example's demo closed loop (:class:`Scenario`) for a built model
    scenario: Callable[[Model], Scenario] | None = None


EXAMPLES: dict[str, Example] = {
    ex.name: ex
    for ex in (
        Example("pendulum", "inverted pendulum on a cart, nx=4 nu=1 (acados benchmark)",
                pendulum.TS, pendulum.pendulum, ocp=pendulum.ocp, scenario=pendulum.scenario),
        Example("quadrotor", "quadrotor with rotor thrusts, Euler angles, nx=12 nu=4 (Mahony et al. 2012)",
                quadrotor.TS, quadrotor.quadrotor, ocp=quadrotor.ocp, scenario=quadrotor.scenario),
        Example("cstr", "van de Vusse CSTR with cooling jacket, nx=4 nu=2 (Klatt & Engell 1998)",
                cstr.TS, cstr.cstr, ocp=cstr.ocp, scenario=cstr.scenario),
        Example("robot_arm", "two-link planar robot arm with joint torques, nx=4 nu=2 (Spong et al. 2006)",
                robot_arm.TS, robot_arm.robot_arm, ocp=robot_arm.ocp, scenario=robot_arm.scenario),
        Example("chain", f"chain of masses and springs, nx=6*MASSES+3 nu=3, default "
                         f"{chain.DEFAULT_MASSES} masses (Wirsching et al. 2006)",
                chain.TS, chain.chain, size_name="masses", default_size=chain.DEFAULT_MASSES,
                size_range=(chain.MIN_MASSES, chain.MAX_MASSES), ocp=chain.ocp, scenario=chain.scenario),
    )
}

_SIZE = re.compile(r"[0-9]+")


def get_example(spec: str) -> tuple[Example, Model]:
    """The example named by ``spec`` ("name" or "name:SIZE") and a freshly built model.

    Raises SourceError for an unknown name, or a size that the example does not take,
    is not an integer or is out of range.
    """
    name, has_size, size_text = spec.partition(":")
    example = EXAMPLES.get(name)
    if example is None:
        raise SourceError(
            f"unknown example {name!r}: known examples are {', '.join(EXAMPLES)} "
            "(or give a model file as path/to/file.py:function)"
        )
    if not has_size:
        return example, example.build()
    return example, example.build(_parse_size(example, size_text))


def _parse_size(example: Example, text: str) -> int:
    """The integer size in ``text``, checked against the example's allowed range."""
    if example.size_range is None:
        sized = [f"{ex.name}:{ex.size_range[0]}..{ex.size_range[1]}" for ex in EXAMPLES.values() if ex.size_range]
        raise SourceError(
            f"example {example.name!r} takes no size: write {example.name!r} alone "
            f"(sized examples: {', '.join(sized)})"
        )
    lo, hi = example.size_range
    what = f"example {example.name!r}: the number of {example.size_name} must be an integer from {lo} to {hi}"
    if not _SIZE.fullmatch(text):
        raise SourceError(f"{what}, got {text!r}")
    size = int(text)
    if not lo <= size <= hi:
        raise SourceError(f"{what}, got {size}")
    return size


__all__ = ["EXAMPLES", "Example", "Scenario", "get_example"]
