"""The manifest of a generated folder (``mpcgen.json``): what produced it and its C API.

Written by the pipeline, read by the build, binding and verification stages, so a
generated folder can be compiled and checked without re-deriving the model.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import BuildError
from ..problem.model import Model
from ..problem.options import CodegenOptions
from ..version import __version__
from .model_program import Program

MANIFEST = "mpcgen.json"


def manifest_text(model: Model, options: CodegenOptions, source: str, shipped: Program,
                  complex_step: Program, files: list[str], controller=None, ocp=None, ocp_complex=None,
                  ekf=None) -> str:
    """Deterministic JSON text (sorted keys) describing a generated folder."""
    data = {
        "mpcgen_version": __version__,
        "source": source,
        "model": {
            "name": model.name,
            "description": model.description,
            "reference": model.reference,
            **{
                group: [
                    {"name": v.name, "lo": v.lo, "hi": v.hi, "nominal": v.nominal_value, "unit": v.unit}
                    for v in vars_
                ]
                for group, vars_ in (("states", model.states), ("inputs", model.inputs),
                                     ("parameters", model.parameters))
            },
        },
        "options": {
            "ts": options.ts, "precision": options.precision, "integrator": options.integrator,
            "substeps": options.substeps, "looped": options.looped,
        },
        "interfaces": {
            "shipped": shipped.interface.to_json(),
            "complex_step": complex_step.interface.to_json(),
            **({"controller": controller.to_json()} if controller is not None else {}),
            **({"ocp": ocp.to_json(), "ocp_complex_step": ocp_complex.to_json()} if ocp is not None else {}),
            **({"ekf": ekf[0].to_json(), "ekf_complex_step": ekf[1].interface.to_json()} if ekf is not None else {}),
        },
        "files": sorted([*files, MANIFEST]),
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_manifest(folder: Path) -> dict:
    """The manifest of ``folder``; BuildError if it is not a generated folder."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise BuildError(f"{folder}: not a generated folder (no {MANIFEST}); run mpcgen generate first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BuildError(f"{path}: unreadable manifest ({exc}); regenerate the folder") from None


def options_of(manifest: dict) -> CodegenOptions:
    """The generation options recorded in a manifest."""
    o = manifest["options"]
    return CodegenOptions(ts=o["ts"], precision=o["precision"], integrator=o["integrator"],
                          substeps=o["substeps"], substep_form="looped" if o["looped"] else "unrolled")
