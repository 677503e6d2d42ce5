"""Compile a generated QP solver alone and call it from numpy.

Used by the tests to check the C solver against qpOASES on random structured QPs,
and by anyone who wants the stage-wise QP solver without an MPC around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codegen.lower import SCALARS
from ..codegen.qp_program import QpLayout, QpProgram
from ..codegen.render import render_qp, render_qp_cdef
from ..version import __version__
from .build import SHIPPED_FLAGS, compile_extension
from .model_binding import struct_views

_DTYPES = {"double": np.float64, "float": np.float32}
STATUS = {0: "ok", 1: "max_iter", 2: "numerical", 3: "nonfinite_data"}


@dataclass(frozen=True)
class QpResult:
    status: str
    iterations: int
    res_stat: float
    res_eq: float
    res_ineq: float
    mu: float


class QpSolver:
    """A compiled QP solver for one layout: fill ``data`` arrays, call :meth:`solve`."""

    def __init__(self, layout: QpLayout, precision: str = "double", prefix: str = "qptest",
                 flags: tuple[str, ...] = SHIPPED_FLAGS):
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
        self.data = struct_views(self.ffi, self._data, self.program.data_fields, dtype)
        self.solution = struct_views(self.ffi, self._sol, self.program.solution_fields, dtype)
        self._solve = getattr(self.lib, f"{pre}_solve")

    def solve(self) -> QpResult:
        status = self._solve(self._data, self.settings, self._sol, self._work, self._stats)
        s = self._stats
        return QpResult(STATUS[status], s.iterations, s.res_stat, s.res_eq, s.res_ineq, s.mu)
