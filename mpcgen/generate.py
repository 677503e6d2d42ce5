"""The code-generation pipeline: source -> derivatives -> programs -> files -> folder.

``generate_files`` is pure (model and options in, file texts out); ``write_folder``
replaces an output folder atomically, so a failed or interrupted generation leaves
the previous output intact.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from . import __version__
from .derive import derive
from .errors import OutputError
from .model import Model
from .options import CodegenOptions
from .program import build_program
from .render import render_program

MANIFEST = "mpcgen.json"
COMPLEX_SUFFIX = "_cs"


def generate_files(model: Model, options: CodegenOptions, source: str) -> dict[str, str]:
    """All files of a generated folder: the shipped C, its complex-step twin, the manifest."""
    d = derive(model, options)
    shipped = build_program(d, options.precision, source)
    complex_step = build_program(d, "complex", source, prefix=model.name + COMPLEX_SUFFIX, only=("F",))
    files = render_program(shipped) | render_program(complex_step)
    manifest = {
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
                for group, vars_ in (("states", model.states), ("inputs", model.inputs), ("parameters", model.parameters))
            },
        },
        "options": {
            "ts": options.ts, "precision": options.precision, "integrator": options.integrator,
            "substeps": options.substeps, "looped": options.looped,
        },
        "interfaces": {"shipped": shipped.interface.to_json(), "complex_step": complex_step.interface.to_json()},
        "files": sorted(files),
    }
    files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return files


def write_folder(files: dict[str, str], out: Path) -> Path:
    """Write ``files`` as the folder ``out``, replacing it atomically.

    The new folder is written next to ``out`` and renamed into place; the old one is
    removed only after the new one exists.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        old = None
        if out.exists():
            if not (out / MANIFEST).is_file() and any(out.iterdir()):
                raise OutputError(
                    f"{out}: exists and is not an mpcgen output folder (no {MANIFEST}); choose another -o"
                )
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
