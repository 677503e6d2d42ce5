"""The code-generation pipeline: source -> derivatives -> programs -> files -> folder.

``generate_files`` is pure (model and options in, file texts out); ``write_folder``
replaces an output folder atomically, so a failed or interrupted generation leaves
the previous output intact.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from pathlib import Path

from .derive import derive
from .errors import MpcgenError, OptionsError, OutputError, SourceError
from .manifest import MANIFEST, manifest_text
from .model import Model
from .controller import build_mpc_program
from .derive import discrete_model
from .integration import integration_files
from .ocp import Ocp, check_ocp
from .options import CodegenOptions
from .program import build_program
from .render import render_controller, render_program

COMPLEX_SUFFIX = "_cs"


def generate_files(model: Model, options: CodegenOptions, source: str, ocp: Ocp | None = None) -> dict[str, str]:
    """All files of a generated folder: the shipped C, its complex-step twin, the
    controller (QP solver and SQP) when an OCP is given, and the manifest."""
    d = derive(model, options)
    shipped = build_program(d, options.precision, source)
    complex_step = build_program(d, "complex", source, prefix=model.name + COMPLEX_SUFFIX, only=("F",))
    files = render_program(shipped) | render_program(complex_step)
    controller = None
    if ocp is not None:
        checked = check_ocp(model, ocp, discrete_model(model, options))
        controller = build_mpc_program(checked, d, source)
        files |= render_controller(controller)
    files |= integration_files(files, model.name)
    files[MANIFEST] = manifest_text(model, options, source, shipped, complex_step, list(files),
                                    controller.interface if controller else None)
    return files


def write_folder(files: dict[str, str], out: Path) -> Path:
    """Write ``files`` as the folder ``out``, replacing it atomically.

    The new folder is written next to ``out`` (``.NAME.new-PID-*``) and renamed into
    place; the old one is moved aside (``.NAME.old-PID``) and removed only after the new
    one exists, and moved back if that fails. What a killed process left behind is
    cleaned up by the next write to ``out`` (see :func:`_recover`).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another -o")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out.parent}: cannot create the folder ({exc.strerror}); choose another -o") from None
    _recover(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    old = None
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        if out.exists():
            if not (out / MANIFEST).is_file() and any(out.iterdir()):
                raise OutputError(
                    f"{out}: exists and is not an mpcgen output folder (no {MANIFEST}); choose another -o"
                )
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(staging, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old, out)  # the new folder never arrived: put the previous one back
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def _recover(out: Path) -> None:
    """Clean up after writes to ``out`` by processes that were killed.

    A previous folder moved aside and never replaced is moved back; staging folders and
    moved-aside folders of processes that no longer run are removed.
    """
    pattern = re.compile(re.escape(f".{out.name}.") + r"(new|old)-([0-9]+)(-.*)?")
    for leftover in sorted(out.parent.iterdir()):
        match = pattern.fullmatch(leftover.name)
        if match is None or _running(int(match[2])):
            continue
        try:
            if match[1] == "old" and not out.exists():
                os.replace(leftover, out)
            else:
                shutil.rmtree(leftover)
        except OSError:
            pass  # another process is recovering the same folder


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    from .source import load_source

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
    return write_folder(generate_files(loaded.model, options, source, ocp), Path(out))


def _load_ocp(loaded) -> Ocp | None:
    """The OCP shipped with a loaded model, checked to be an Ocp."""
    if loaded.ocp is None:
        return None
    name = getattr(loaded.ocp, "__name__", "ocp")
    try:
        ocp = loaded.ocp(loaded.model)
    except MpcgenError:
        raise
    except Exception as exc:
        raise SourceError(f"{loaded.spec}: {name}(model) raised {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())}") from None
    if not isinstance(ocp, Ocp):
        raise SourceError(f"{loaded.spec}: {name}(model) must return an mpcgen.Ocp, got {type(ocp).__name__}")
    return ocp
