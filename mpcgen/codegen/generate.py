"""The code-generation pipeline: source -> derivatives -> programs -> files -> folder.

``generate_files`` is pure (model and options in, file texts out); ``generate`` loads
a model by name, generates its files and writes them with
:func:`~mpcgen.codegen.folder.write_folder`, which replaces the output folder
atomically.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..derivatives.discretize import discrete_model
from ..derivatives.jacobians import derive
from ..errors import OptionsError
from ..problem.model import Model
from ..problem.ocp import Ocp, check_ocp
from ..problem.options import CodegenOptions
from ..problem.source import call_companion, scenario_of
from .build_files import ExampleLoop, integration_files
from .ekf_program import build_ekf_program
from .folder import write_folder
from .manifest import MANIFEST, manifest_text
from .model_program import COMPLEX_SUFFIX, build_program
from .mpc_program import build_mpc_program
from .ocp_program import build_ocp_program
from .render import render_controller, render_ekf, render_ocp, render_program
from .step_bound import step_bound


def generate_files(model: Model, options: CodegenOptions, source: str, ocp: Ocp | None = None,
                   x0=None) -> dict[str, str]:
    """All files of a generated folder: the shipped C, its complex-step twin, the
    controller (QP solver and SQP) when an OCP is given, the EKF (and its twin) when the
    model declares outputs and their noise, the build files, and the manifest. ``x0``: the
    state example_main.c starts from (the scenario's; default: the states' nominal values,
    where the model is known to evaluate)."""
    d = derive(model, options)
    shipped = build_program(d, options.precision, source, packed=ocp is not None)
    complex_step = build_program(d, "complex", source, prefix=model.name + COMPLEX_SUFFIX, only=("F",))
    files = render_program(shipped) | render_program(complex_step)
    controller = ocp_shipped = ocp_complex = None
    if ocp is not None:
        checked = check_ocp(model, ocp, discrete_model(model, options))
        ocp_shipped = build_ocp_program(checked, options.precision, source, options.describe())
        ocp_complex = build_ocp_program(checked, "complex", source, options.describe())
        controller = build_mpc_program(checked, d, source, ocp_shipped)
        if options.precision == "float":
            controller = dataclasses.replace(controller, bound=step_bound(controller, shipped))
        files |= render_controller(controller)
        for program in (ocp_shipped, ocp_complex):
            if program is not None:
                files |= render_ocp(program)
    ekf = build_ekf_program(model, options.precision, source, options.describe(), A=d.A if d.repeats == 1 else None)
    ekf_complex = build_ekf_program(model, "complex", source, options.describe())
    for program in (ekf, ekf_complex):
        if program is not None:
            files |= render_ekf(program)
    loop = None
    if controller is not None:
        start = [v.nominal_value for v in model.states] if x0 is None else list(x0)
        loop = ExampleLoop(options.ts, controller.array(start), controller.array(controller.nominal_p),
                           "the scenario's initial state" if x0 is not None else "the states' nominal values",
                           tuple(v.name for v in model.states))
    files |= integration_files(files, model.name, loop)
    files[MANIFEST] = manifest_text(model, options, source, shipped, complex_step, list(files),
                                    controller.interface if controller else None,
                                    ocp_shipped.interface if ocp_shipped else None,
                                    ocp_complex.interface if ocp_complex else None,
                                    ekf=(ekf, ekf_complex) if ekf is not None else None)
    return files


def generate(
    source: str,
    out: str | Path,
    *,
    ts: float | None = None,
    precision: str = "double",
    integrator: str = "rk4",
    substeps: int = 1,
    substep_form: str = "auto",
    controller: bool = True,
    horizon: int | None = None,
) -> Path:
    """Generate the folder ``out`` for an example name or ``file.py:function``.

    ``ts`` defaults to the example's sample time (or a ``TS`` constant in the model file).
    With ``controller`` (the default) and an OCP shipped with the model (an example's,
    or a function ``ocp(model)`` in the model file), the MPC controller is generated too;
    ``horizon`` replaces the OCP's N.
    """
    from ..problem.source import load_source

    loaded = load_source(source)
    ts = ts if ts is not None else loaded.default_ts
    if ts is None:
        raise OptionsError(f"{source}: no default sample time; pass ts (CLI: --ts SECONDS) or define TS in the file")
    options = CodegenOptions(ts=ts, precision=precision, integrator=integrator, substeps=substeps,
                             substep_form=substep_form)
    ocp = _load_ocp(loaded) if controller else None
    if horizon is not None:
        if ocp is None:
            raise OptionsError(f"{source}: --horizon needs an OCP, and this model comes without one")
        ocp = dataclasses.replace(ocp, N=horizon)
    scenario = scenario_of(loaded) if ocp is not None else None
    return write_folder(generate_files(loaded.model, options, source, ocp, scenario.x0 if scenario else None),
                        Path(out))


def _load_ocp(loaded) -> Ocp | None:
    """The OCP shipped with a loaded model, checked to be an Ocp."""
    return call_companion(loaded, "ocp", Ocp)
