"""Call the compiled C of a generated folder with numpy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codegen.manifest import read_manifest
from ..codegen.ocp_program import OcpSignature
from ..errors import EvaluationError
from .build import Built, build

_DTYPES = {"double": np.float64, "float": np.float32, "double _Complex": np.complex128}
_STATUS = {1: "non-finite input (NaN or Inf in x, u or p)", 2: "non-finite output (evaluation overflowed)"}


class CompiledModel:
    """The exact C of a generated folder, compiled through cffi.

    ``F``, ``dF_dx``, ``dF_du``, ``dF_dp``, ``jacobians`` (= F_and_jacobians) call the
    shipped build; ``F_complex`` calls the complex-step build (compiled on first use).
    Jacobians are returned as (rows, cols) arrays. When the folder has the OCP's own
    functions (``PREFIX_ocp.c``: outputs y, constraints h, h_N), ``ocp_functions`` names
    them and ``ocp(name, x, u, p)`` / ``ocp_complex(name, x, u, p)`` call them.
    """

    def __init__(self, folder: str | Path, build_kind: str = "shipped"):
        """``build_kind`` "promoted": a float folder's functions evaluated in double (verification)."""
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self._shipped = build(self.folder, build_kind)
        self._complex: Built | None = None
        i = self._shipped.interface
        self.prefix, self.nx, self.nu, self.np = i.prefix, i.nx, i.nu, i.np
        self.dtype = _DTYPES[i.c_type]

    def F(self, x, u, p=()) -> np.ndarray:
        return self._call(self._shipped, "F", x, u, p)[0]

    def dF_dx(self, x, u, p=()) -> np.ndarray:
        return self._call(self._shipped, "dF_dx", x, u, p)[0]

    def dF_du(self, x, u, p=()) -> np.ndarray:
        return self._call(self._shipped, "dF_du", x, u, p)[0]

    def dF_dp(self, x, u, p=()) -> np.ndarray:
        return self._call(self._shipped, "dF_dp", x, u, p)[0]

    def jacobians(self, x, u, p=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x_next, A, B) from the fused F_and_jacobians."""
        x_next, A, B = self._call(self._shipped, "F_and_jacobians", x, u, p)
        return x_next, A, B

    def F_complex(self, x, u, p=()) -> np.ndarray:
        """F of the complex-step build: x, u, p may carry imaginary perturbations."""
        if self._complex is None:
            self._complex = build(self.folder, "complex_step")
        return self._call(self._complex, "F", x, u, p)[0]

    @property
    def functions(self) -> tuple[str, ...]:
        """Names of the model's shipped functions, in the header's order."""
        return tuple(f.name for f in self._shipped.interface.functions)

    def call(self, name: str, x, u, p=()) -> dict[str, np.ndarray]:
        """Call the model's function ``name`` (e.g. "dF_du"): its outputs by name. A packed
        output (A_nz, B_nz of F_and_jacobians_nz) is returned as the dense matrix it packs,
        under its dense name (A, B)."""
        sig = next((f for f in self._shipped.interface.functions if f.name == name), None)
        if sig is None:
            raise EvaluationError(f"{self.folder}: no model function {name!r} (known: {', '.join(self.functions)})")
        out = {}
        for q, value in zip(sig.outputs, self._call(self._shipped, name, x, u, p)):
            positions = sig.packed_positions(q)
            if positions is None:
                out[q] = value
                continue
            dense = np.zeros((self.nx, self.nx if q == "A_nz" else self.nu), dtype=value.dtype)
            dense.flat[list(positions)] = value
            out[q.removesuffix("_nz")] = dense
        return out

    @property
    def ocp_functions(self) -> tuple[OcpSignature, ...]:
        """The OCP's functions in the folder (y, h, hN; empty without them)."""
        return self._shipped.ocp.functions if self._shipped.ocp else ()

    def ocp(self, name: str, x, u=(), p=()) -> dict[str, np.ndarray]:
        """Call the OCP function ``name`` ("y", "h" or "hN"; hN ignores u): its outputs by name,
        "value" (rows,) and the Jacobians "Jx" (rows, nx), "Ju" (rows, nu)."""
        return self._call_ocp(self._shipped, name, x, u, p)

    def ocp_complex(self, name: str, x, u=(), p=()) -> np.ndarray:
        """The value of OCP function ``name`` in the complex-step build."""
        if self._complex is None:
            self._complex = build(self.folder, "complex_step")
        return self._call_ocp(self._complex, name, x, u, p)["value"]

    @property
    def ekf_functions(self) -> tuple[OcpSignature, ...]:
        """The EKF's measurement function h in the folder (empty without an EKF)."""
        return self._shipped.ekf.functions if self._shipped.ekf else ()

    def ekf(self, name: str, x, u=(), p=()) -> dict[str, np.ndarray]:
        """Call the EKF's function ``name`` ("h"): "value" (ny,), "Jx" (ny, nx), "Ju" (ny, nu)."""
        return self._call_ocp(self._shipped, name, x, u, p, "ekf")

    def ekf_complex(self, name: str, x, u=(), p=()) -> np.ndarray:
        """The value of the EKF's function ``name`` in the complex-step build."""
        if self._complex is None:
            self._complex = build(self.folder, "complex_step")
        return self._call_ocp(self._complex, name, x, u, p, "ekf")["value"]

    def _call_ocp(self, built: Built, name: str, x, u, p, group: str = "ocp") -> dict[str, np.ndarray]:
        ocp = built.ocp if group == "ocp" else built.ekf
        sig = next((f for f in ocp.functions if f.name == name), None) if ocp else None
        if sig is None:
            known = ", ".join(f.name for f in ocp.functions) if ocp else "none"
            raise EvaluationError(f"{self.folder}: no {group.upper()} function {name!r} (this folder has: {known})")
        dtype = _DTYPES[ocp.c_type]
        values = {"x": (x, ocp.nx), "u": (u, ocp.nu), "p": (p, ocp.np)}
        args = [_vector(values[i][0], values[i][1], dtype, i) for i in sig.inputs]
        outs = {q: np.zeros(sig.size(q, ocp.nx, ocp.nu), dtype=dtype) for q in sig.outputs}
        ctype = f"{ocp.model_prefix}_real *"
        ptrs = [built.ffi.cast(ctype, a.ctypes.data) for a in [*args, *outs.values()]]
        status = getattr(built.lib, f"{ocp.prefix}_{name}")(*ptrs)
        if status != 0:
            raise EvaluationError(f"{ocp.prefix}_{name} returned status {status}: {_STATUS.get(status, 'unknown')}")
        cols = {"value": None, "Jx": ocp.nx, "Ju": ocp.nu}
        return {q: a if cols[q] is None else a.reshape(sig.rows, cols[q]) for q, a in outs.items()}

    def _call(self, built: Built, name: str, x, u, p) -> list[np.ndarray]:
        interface = built.interface
        dtype = _DTYPES[interface.c_type]
        sig = next(f for f in interface.functions if f.name == name)
        args = [
            _vector(v, n, dtype, label)
            for v, n, label in ((x, interface.nx, "x"), (u, interface.nu, "u"), (p, interface.np, "p"))
        ]
        shapes = {"x_next": (interface.nx,), "A": (interface.nx, interface.nx),
                  "B": (interface.nx, interface.nu), "P": (interface.nx, interface.np)}
        outs = [np.zeros((len(sig.packed_positions(q)),) if sig.packed_positions(q) is not None else shapes[q],
                         dtype=dtype) for q in sig.outputs]
        ctype = f"{interface.prefix}_real *"
        ptrs = [built.ffi.cast(ctype, a.ctypes.data) for a in args + outs]
        status = getattr(built.lib, f"{interface.prefix}_{name}")(*ptrs)
        if status != 0:
            raise EvaluationError(f"{interface.prefix}_{name} returned status {status}: {_STATUS.get(status, 'unknown')}")
        return outs


def _vector(value, n: int, dtype, label: str) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(value, dtype=dtype).reshape(-1))
    if a.size != n:
        raise EvaluationError(f"{label} has {a.size} entries, the model needs {n}")
    return a if n else np.zeros(1, dtype=dtype)


def load_model(folder: str | Path) -> CompiledModel:
    """Compile (cached) and bind the generated folder ``folder``."""
    return CompiledModel(folder)


def struct_views(ffi, obj, fields, dtype) -> dict[str, np.ndarray]:
    """numpy views (no copies) of the real-array fields of a cffi struct ``obj``.

    ``fields`` is a sequence of (name, shape, meaning) as the templates declare them.
    """
    views = {}
    for name, shape, _ in fields:
        buf = ffi.buffer(ffi.addressof(obj[0], name))
        views[name] = np.frombuffer(buf, dtype=dtype).reshape(shape)
    return views
