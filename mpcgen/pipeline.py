"""The code-generation pipeline: source -> derivatives -> programs -> files -> folder.

``generate_files`` is pure (model and options in, file texts out); ``write_folder``
replaces an output folder atomically, so a failed or interrupted generation leaves
the previous output intact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .derive import derive
from .errors import OptionsError, OutputError
from .manifest import MANIFEST, manifest_text
from .model import Model
from .options import CodegenOptions
from .program import build_program
from .render import render_program

COMPLEX_SUFFIX = "_cs"


def generate_files(model: Model, options: CodegenOptions, source: str) -> dict[str, str]:
    """All files of a generated folder: the shipped C, its complex-step twin, the manifest."""
    d = derive(model, options)
    shipped = build_program(d, options.precision, source)
    complex_step = build_program(d, "complex", source, prefix=model.name + COMPLEX_SUFFIX, only=("F",))
    files = render_program(shipped) | render_program(complex_step)
    files[MANIFEST] = manifest_text(model, options, source, shipped, complex_step, list(files))
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


def generate(
    source: str,
    out: str | Path,
    *,
    ts: float | None = None,
    precision: str = "double",
    integrator: str = "rk4",
    substeps: int = 1,
    substep_form: str = "auto",
) -> Path:
    """Generate the folder ``out`` for an example name or ``file.py:function``.

    ``ts`` defaults to the example's sample time (or a ``TS`` constant in the model file).
    """
    from .source import load_source

    loaded = load_source(source)
    ts = ts if ts is not None else loaded.default_ts
    if ts is None:
        raise OptionsError(f"{source}: no default sample time; pass ts (CLI: --ts SECONDS) or define TS in the file")
    options = CodegenOptions(ts=ts, precision=precision, integrator=integrator, substeps=substeps,
                             substep_form=substep_form)
    return write_folder(generate_files(loaded.model, options, source), Path(out))
