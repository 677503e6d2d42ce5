"""Compile a generated folder with cffi (API mode) into a cache and load it.

The compiled extension lives in a cache folder keyed by a hash of everything that
affects it (sources, declarations, flags, Python and cffi versions), never in the
source tree. A build runs under a file lock and is renamed into place when
complete, so concurrent processes building the same folder are safe and a second
build of unchanged sources is a cache hit.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cffi

from ..codegen.lower import LIBM_FUNCTIONS
from ..codegen.manifest import read_manifest
from ..codegen.model_program import Interface
from ..codegen.ocp_program import OcpInterface
from ..codegen.render import environment, render_cdef, render_controller_cdef, render_ekf_cdef, render_ocp_cdef
from ..errors import BuildError

#: Flags for the shipped build (double or float). -std=c99 keeps FMA contraction off,
#: like the strict firmware builds.
SHIPPED_FLAGS = ("-std=c99", "-O2", "-fno-math-errno")
#: Complex builds compile slowly and only serve verification: low optimization.
COMPLEX_FLAGS = ("-std=c99", "-O1")


@dataclass(frozen=True)
class Built:
    """A loaded cffi extension of one generated file pair."""

    interface: Interface
    ffi: cffi.FFI
    lib: object
    path: Path
    ocp: OcpInterface | None = None   # the OCP's functions built in too (shipped and complex builds)
    ekf: OcpInterface | None = None   # the EKF's measurement function h (the shipped build has the filter too)


def cache_dir() -> Path:
    """``$MPCGEN_CACHE``, else ``$XDG_CACHE_HOME/mpcgen``, else ``~/.cache/mpcgen``."""
    env = os.environ.get("MPCGEN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mpcgen"


def build(folder: Path, which: str = "shipped", flags: tuple[str, ...] | None = None) -> Built:
    """Compile (or reuse from the cache) and load ``which``: "shipped" (the model's functions
    and the OCP's, when the folder has them), "complex_step" (their complex-step twins),
    "promoted" (a float folder's shipped source with double arithmetic, see
    :func:`promoted_sources`) or "controller"."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    if which == "controller":
        return _build_controller(folder, manifest, flags or SHIPPED_FLAGS)
    kind = "shipped" if which == "promoted" else which
    interface = Interface.from_json(manifest["interfaces"][kind])
    if flags is None:
        flags = COMPLEX_FLAGS if which == "complex_step" else SHIPPED_FLAGS
    names = [f"{interface.prefix}.h", f"{interface.prefix}.c"]
    ocp_data = manifest["interfaces"].get("ocp" if kind == "shipped" else "ocp_complex_step")
    ocp = OcpInterface.from_json(ocp_data) if ocp_data else None
    if ocp is not None:
        names += ocp.files
    ekf_data = manifest["interfaces"].get("ekf" if kind == "shipped" else "ekf_complex_step")
    ekf = OcpInterface.from_json(ekf_data) if ekf_data else None
    if ekf is not None:
        names += ekf.files
    sources = _read(folder, names)
    if which == "promoted":
        if interface.c_type != "float":
            raise BuildError(f"{folder}: only a float folder has a promoted build (this one is {interface.c_type})")
        interface = dataclasses.replace(interface, c_type="double")
        ocp = dataclasses.replace(ocp, c_type="double") if ocp else None
        ekf = dataclasses.replace(ekf, c_type="double") if ekf else None
        sources = promoted_sources(sources, interface.prefix)
    cdef = render_cdef(interface) + ("\n" + render_ocp_cdef(ocp) if ocp else "")
    if ekf is not None:   # the shipped build binds the filter too; the complex twin has h alone
        cdef += "\n" + (render_ekf_cdef(ekf_data) if kind == "shipped" else render_ocp_cdef(ekf))
    module, so = compile_extension(interface.prefix + ("_promoted" if which == "promoted" else ""), sources, cdef,
                                   flags)
    return Built(interface, module.ffi, module.lib, so, ocp, ekf)


_FLOAT_LIBM = re.compile(r"\b(" + "|".join(LIBM_FUNCTIONS) + r")f\(")
#: float_math.j2's fixed-work sin and cos (float only)
_FLOAT_TRIG = re.compile(r"^#ifndef MPCGEN_FLOAT_TRIG\n.*?^#endif /\* MPCGEN_FLOAT_TRIG \*/$", re.M | re.S)


def promoted_sources(sources: dict[str, str], prefix: str) -> dict[str, str]:
    """A float folder's C with double arithmetic: ``PREFIX_real`` becomes double and each
    float libm call its double twin (mpcgen's fixed-work sine and cosine too); the float
    literals keep their float values. This is the float program evaluated (nearly)
    exactly, for verification."""
    typedef = f"typedef float {prefix}_real;"
    out = {}
    for name, text in sources.items():
        if name == f"{prefix}.h":
            if typedef not in text:
                raise BuildError(f"{name}: no '{typedef}' to promote; regenerate the folder")
            text = text.replace(typedef, f"typedef double {prefix}_real;")
        text = _FLOAT_TRIG.sub(lambda _: _promoted_trig().strip("\n"), text)
        out[name] = _FLOAT_LIBM.sub(r"\1(", text)   # headers too: the OCP functions' bodies are inline
    return out


def _promoted_trig() -> str:
    return environment().get_template("float_math.j2").module.helper("float_trig", promoted=True)


def _read(folder: Path, names) -> dict[str, str]:
    """File name -> text of ``names`` in ``folder``; BuildError naming any that is missing."""
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise BuildError(f"{folder}: missing {', '.join(missing)}; regenerate the folder")
    return {name: (folder / name).read_text() for name in names}


def _build_controller(folder: Path, manifest: dict, flags: tuple[str, ...]) -> Built:
    """The controller build: SQP, QP solver and model compiled together."""
    from ..codegen.mpc_program import ControllerInterface

    data = manifest["interfaces"].get("controller")
    if data is None:
        raise BuildError(f"{folder}: has no controller (the model came without an OCP); "
                         "generate it from a model with an OCP")
    controller = ControllerInterface.from_json(data)
    model = Interface.from_json(manifest["interfaces"]["shipped"])
    sources = _read(folder, (*controller.files, f"{model.prefix}.h", f"{model.prefix}.c"))
    module, so = compile_extension(f"{controller.prefix}_mpc", sources, render_controller_cdef(model, controller), flags)
    return Built(model, module.ffi, module.lib, so)


def compile_extension(
    name: str, sources: dict[str, str], cdef: str, flags: tuple[str, ...] = SHIPPED_FLAGS
) -> tuple[ModuleType, Path]:
    """Compile C ``sources`` (file name -> text: headers and .c files) with cffi, cached.

    Every header is included by the binding, in order; every .c file is compiled. Returns
    the loaded module (``.ffi``, ``.lib``) and the path of the extension.
    """
    key = _key(sources, cdef, flags)
    module_name = f"_mpcgen_{name}_{key[:16]}"
    target = cache_dir() / module_name
    so = _find_extension(target)
    if so is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f"{module_name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            so = _find_extension(target)
            if so is None:
                _compile(module_name, sources, cdef, flags, target)
                so = _find_extension(target)
    assert so is not None
    return _load(module_name, so), so


def _key(sources: dict[str, str], cdef: str, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in (*sorted(sources.items()), cdef, flags, sys.version, cffi.__version__):
        h.update(repr(part).encode())
    return h.hexdigest()


def _find_extension(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    found = sorted(folder.glob("*.so")) + sorted(folder.glob("*.pyd"))
    return found[0] if found else None


def _compile(module_name: str, sources: dict[str, str], cdef: str, flags: tuple[str, ...], target: Path) -> None:
    """Compile in a fresh temporary folder, then rename it to ``target``."""
    work = Path(tempfile.mkdtemp(prefix=f".{module_name}-", dir=target.parent))
    try:
        for name, text in sources.items():
            (work / name).write_text(text)
        headers = [n for n in sources if n.endswith(".h")]
        c_files = [n for n in sources if n.endswith(".c")]
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        ffi.set_source(
            module_name,
            "\n".join(f'#include "{h}"' for h in headers),
            sources=[str(work / n) for n in c_files],
            include_dirs=[str(work)],
            extra_compile_args=list(flags),
            libraries=["m"],
        )
        try:
            ffi.compile(tmpdir=str(work), verbose=False)
        except Exception as exc:  # distutils CompileError, LinkError
            raise BuildError(f"compiling {', '.join(c_files)} failed: {exc}") from None
        for leftover in work.rglob("*.o"):
            leftover.unlink()
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _load(module_name: str, so: Path) -> ModuleType:
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, so)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[module_name] = module
    return module
