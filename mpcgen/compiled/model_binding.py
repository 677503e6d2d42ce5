"""Call the compiled C of a generated folder with numpy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codegen.manifest import read_manifest
from ..errors import EvaluationError
from .build import Built, build

_DTYPES = {"double": np.float64, "float": np.float32, "double _Complex": np.complex128}
_STATUS = {1: "non-finite input (NaN or Inf in x, u or p)", 2: "non-finite output (evaluation overflowed)"}


class CompiledModel:
    """The exact C of a generated folder, compiled through cffi.

    ``F``, ``dF_dx``, ``dF_du``, ``dF_dp``, ``jacobians`` (= F_and_jacobians) call the
    shipped build; ``F_complex`` calls the complex-step build (compiled on first use).
    Jacobians are returned as (rows, cols) arrays.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self._shipped = build(self.folder, "shipped")
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
        outs = [np.zeros(shapes[q], dtype=dtype) for q in sig.outputs]
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
