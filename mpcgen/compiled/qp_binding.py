"""Compile a generated QP solver alone and call it from numpy.

Used by the tests to check the C solver against qpOASES on random structured QPs,
and by anyone who wants the stage-wise QP solver without an MPC around it. ``data``
holds the QP in dense row-major arrays (A as N x nx*nx, Q as N+1 x nx*nx with Q_N
last, ...); :meth:`QpSolver.solve` packs the entries of the layout's patterns into the
solver's struct (entries outside a pattern are never read).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codegen.lower import SCALARS
from ..codegen.qp_layout import QpLayout
from ..codegen.qp_program import QpProgram
from ..codegen.render import render_qp, render_qp_cdef
from ..version import __version__
from .build import SHIPPED_FLAGS, compile_extension
from .model_binding import struct_views

_DTYPES = {"double": np.float64, "float": np.float32}
STATUS = {0: "ok", 1: "max_iter", 2: "numerical", 3: "nonfinite_data", 4: "infeasible"}


@dataclass(frozen=True)
class QpResult:
    status: str
    iterations: int
    res_stat: float
    res_eq: float
    res_ineq: float
    mu: float


def dense_fields(layout: QpLayout) -> dict[str, tuple[int, ...]]:
    """Shapes of the dense (unpacked) data arrays of ``QpSolver.data``."""
    L = layout
    nx, nu, N = L.nx, L.nu, L.N
    return {"A": (N, nx * nx), "B": (N, nx * nu), "Q": (N + 1, nx * nx), "S": (N, nu * nx), "R": (N, nu * nu)}


class QpSolver:
    """A compiled QP solver for one layout: fill ``data`` arrays, call :meth:`solve`."""

    def __init__(self, layout: QpLayout, precision: str = "double", prefix: str = "qptest",
                 flags: tuple[str, ...] = SHIPPED_FLAGS):
        self.layout = layout
        self.program = QpProgram(prefix, SCALARS[precision], layout, __version__)
        files = render_qp(self.program)
        module, _ = compile_extension(f"{prefix}_qp", files, render_qp_cdef(self.program), flags)
        self.ffi, self.lib = module.ffi, module.lib
        dtype = _DTYPES[precision]
        pre = f"{prefix}_qp"
        self._data = self.ffi.new(f"struct {pre}_data *")
        self._sol = self.ffi.new(f"struct {pre}_solution *")
        self._work = self.ffi.new(f"struct {pre}_work *")
        self._stats = self.ffi.new(f"struct {pre}_stats *")
        self.settings = self.ffi.new(f"struct {pre}_settings *")
        getattr(self.lib, f"{pre}_default_settings")(self.settings)
        self._packed = struct_views(self.ffi, self._data, self.program.data_fields, dtype)
        dense = dense_fields(layout)
        self.data = {name: np.zeros(dense.get(name, shape), dtype=dtype) for name, shape, _ in self.program.data_fields
                     if name != "QN"}
        self.solution = struct_views(self.ffi, self._sol, self.program.solution_fields, dtype)
        self._solve = getattr(self.lib, f"{pre}_solve")
        self._setup = getattr(self.lib, f"{pre}_setup")

    def _pack(self) -> None:
        L, d, out = self.layout, self.data, self._packed
        nx, nu = L.nx, L.nu
        shapes = {"A": (nx, nx), "B": (nx, nu), "S": (nu, nx), "R": (nu, nu), "Q": (nx, nx)}
        for name, target in out.items():
            if name in shapes:
                rows, cols = (np.array(v, dtype=int) for v in self.program.rows_cols(name))
                for k in range(target.shape[0]):
                    if rows.size:
                        target[k][:rows.size] = d[name][k].reshape(shapes[name])[rows, cols]
            elif name == "QN":
                rows, cols = (np.array(v, dtype=int) for v in self.program.rows_cols("QN"))
                target[:rows.size] = d["Q"][L.N].reshape(nx, nx)[rows, cols]
            else:
                target[...] = d[name]

    def setup(self) -> str:
        """The real-time API's set-up (start point and first factorization, x0 left out): its status."""
        self._pack()
        return STATUS[self._setup(self._data, self.settings, self._sol, self._work)]

    def solve(self) -> QpResult:
        self._pack()
        status = self._solve(self._data, self.settings, self._sol, self._work, self._stats)
        s = self._stats
        return QpResult(STATUS[status], s.iterations, s.res_stat, s.res_eq, s.res_ineq, s.mu)
