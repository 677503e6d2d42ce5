"""The files a firmware project builds a generated folder with.

``integration_files`` adds, next to the generated C, a ``CMakeLists.txt`` (static
library target ``PREFIX``), a Makefile fragment ``PREFIX.mk`` and, when the folder holds
the controller (``PREFIX_mpc.h``), ``example_main.c``: the real-time-iteration loop at
the sample rate (timer tick -> read state -> feedback -> apply control -> prepare),
from the scenario's initial state or the states' nominal values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..version import __version__
from .model_program import COMPLEX_SUFFIX
from .render import environment

#: How the build files compile the library unless the firmware overrides it (PREFIX_OPT in
#: the Makefile fragment, PREFIX_OPT_FLAGS in CMake), and what ``mpcgen firmware`` measures:
#: -O3 unrolls the small fixed-size loops; -ffp-contract=fast lets a*b+c become one fused
#: multiply-add (vfma on a Cortex-M4F/M7; the default of gcc's GNU dialects, which -std=c99
#: turns off); -fno-math-errno lets sqrtf be one instruction.
OPTIMIZE_FLAGS = ("-O3", "-ffp-contract=fast", "-fno-math-errno")
#: The integration example: never part of the library, never compiled by the firmware check.
EXAMPLE_MAIN = "example_main.c"


def library_sources(names: list[str] | tuple[str, ...] | Mapping[str, str]) -> list[str]:
    """The C files of a firmware library among ``names``: no complex-step twin, no example."""
    return sorted(n for n in names
                  if n.endswith(".c") and not n.endswith(f"{COMPLEX_SUFFIX}.c") and n != EXAMPLE_MAIN)


@dataclass(frozen=True)
class ExampleLoop:
    """What example_main.c's loop needs from the problem: the sample time, the state it
    starts from (C initializers in the shipped scalar) and where that state comes from."""

    ts: float
    x0: str             # C initializer list of the start state
    p: str              # C initializer list of the nominal parameters (the stand-in plant's)
    x0_origin: str      # "the scenario's initial state" or "the states' nominal values"
    states: tuple[str, ...]

    @property
    def rate(self) -> str:
        """The loop rate from the sample time, e.g. "1 kHz", "20 Hz"."""
        hz = 1.0 / self.ts
        return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz:.4g} Hz"


def integration_files(files: Mapping[str, str], prefix: str, loop: ExampleLoop | None = None) -> dict[str, str]:
    """File name -> text of CMakeLists.txt, PREFIX.mk and (with the controller and ``loop``)
    example_main.c.

    ``files`` are the generated folder's other files, name -> text (the names say which
    sources there are; the controller header's text whether it has an initial guess);
    ``prefix`` is the C prefix of the shipped code (the model's name); ``loop``: what the
    example's loop starts from (its nominal parameters also feed the EKF, when the folder
    has one).
    """
    sources = library_sources(files)
    headers = sorted(n for n in files if n.endswith(".h") and not n.endswith(f"{COMPLEX_SUFFIX}.h"))
    mpc_header = f"{prefix}_mpc.h"
    example = EXAMPLE_MAIN if mpc_header in files and loop is not None else None
    initial_guess = f"int {prefix}_mpc_set_initial_guess(" in (files.get(mpc_header) or "")
    env = environment()
    context = {"optimize": " ".join(OPTIMIZE_FLAGS), "prefix": prefix, "version": __version__, "sources": sources, "headers": headers, "example": example,
               "initial_guess": initial_guess, "loop": loop, "ekf": f"{prefix}_ekf.h" in files}
    out = {
        "CMakeLists.txt": env.get_template("firmware/CMakeLists.txt.j2").render(**context),
        f"{prefix}.mk": env.get_template("firmware/lib.mk.j2").render(**context),
    }
    if example is not None:
        out[example] = env.get_template("firmware/example_main.c.j2").render(**context)
    return out
