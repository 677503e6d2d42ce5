"""Generation options: how to discretize and which C to emit. Separate from the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import OptionsError

PRECISIONS = ("double", "float")
INTEGRATORS = ("rk4", "rk2", "euler")
SUBSTEP_FORMS = ("auto", "unrolled", "looped")

#: With ``substep_form="auto"``, this many substeps or more are looped in C.
LOOP_FROM_SUBSTEPS = 4


@dataclass(frozen=True)
class CodegenOptions:
    """How to turn a model into C.

    ts:            sample time of the discrete model [s]
    precision:     scalar type of the shipped C ("double" or "float")
    integrator:    explicit Runge-Kutta scheme ("rk4", "rk2" = midpoint, "euler")
    substeps:      integrator steps per sample (each of length ts/substeps)
    substep_form:  "unrolled" emits all substeps as straight-line code; "looped" emits one
                   substep and loops it in C, propagating the Jacobians, so code size does
                   not grow with ``substeps``; "auto" loops from 4 substeps on.
    """

    ts: float
    precision: str = "double"
    integrator: str = "rk4"
    substeps: int = 1
    substep_form: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.ts, (int, float)) or not math.isfinite(self.ts) or self.ts <= 0:
            raise OptionsError(f"sample time ts must be a positive finite number of seconds, got {self.ts!r}")
        if self.precision not in PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.integrator not in INTEGRATORS:
            raise OptionsError(f"integrator must be one of {', '.join(INTEGRATORS)}, got {self.integrator!r}")
        if not isinstance(self.substeps, int) or not 1 <= self.substeps <= 1000:
            raise OptionsError(f"substeps must be an integer from 1 to 1000, got {self.substeps!r}")
        if self.substep_form not in SUBSTEP_FORMS:
            raise OptionsError(f"substep form must be one of {', '.join(SUBSTEP_FORMS)}, got {self.substep_form!r}")

    @property
    def looped(self) -> bool:
        """Whether the emitted C loops one generated substep instead of unrolling all."""
        if self.substep_form == "auto":
            return self.substeps >= LOOP_FROM_SUBSTEPS
        return self.substep_form == "looped"

    def describe(self) -> str:
        """One line naming every option, written into generated files."""
        form = "looped" if self.looped else "unrolled"
        return (
            f"precision={self.precision} integrator={self.integrator} substeps={self.substeps} "
            f"({form}) ts={self.ts!r}"
        )
