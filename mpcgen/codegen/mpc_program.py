"""Assemble the C program of an MPC from its OCP.

Decides *what* the generated controller contains: the QP layout (which bounds give
rows), which of the OCP's own functions it calls (least-squares outputs y, path
constraints h, terminal constraints h_N, each with its Jacobians: public functions of
``PREFIX_ocp.c``, see :mod:`.ocp_program`), the default weights, references and bounds
the controller starts with, and the memory it needs. The templates ``mpc.h.j2`` /
``mpc.c.j2`` decide how it looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np

from ..derivatives.jacobians import Derivatives
from ..problem.ocp import CheckedOcp
from ..version import __version__
from .lower import SCALARS, Scalar
from .ocp_program import OcpProgram
from .qp_program import QpLayout, QpProgram, struct_bytes


@dataclass(frozen=True)
class MpcProgram:
    """Everything the controller templates need for one OCP in one scalar type."""

    prefix: str
    scalar: Scalar
    ocp: CheckedOcp
    options_line: str
    source: str
    version: str
    qp: QpProgram
    #: the OCP's functions the controller calls (None: the OCP has no y, h or h_N)
    ocp_functions: OcpProgram | None

    @property
    def model(self):
        return self.ocp.model

    @property
    def N(self) -> int:
        return self.ocp.N

    def rows_of(self, name: str) -> int:
        return self.ocp_functions.rows(name) if self.ocp_functions else 0

    @property
    def ocp_prefix(self) -> str | None:
        """Prefix of the OCP functions' file pair and functions (None if there are none)."""
        return self.ocp_functions.prefix if self.ocp_functions else None

    @property
    def ny(self) -> int:
        return self.rows_of("y")

    @property
    def nh(self) -> int:
        return self.rows_of("h")

    @property
    def nhn(self) -> int:
        return self.rows_of("hN")

    def literal(self, value: float) -> str:
        return self.scalar.literal(value)

    def array(self, values) -> str:
        """A C initializer list of literals for a flat sequence (row-major for matrices)."""
        flat = np.asarray(values, dtype=float).reshape(-1)
        return "{" + ", ".join(self.literal(v) for v in flat) + "}" if flat.size else "{" + self.literal(0.0) + "}"

    @property
    def u_row_bounds(self) -> list[float]:
        o = self.ocp
        return [float(o.u_lo[i] if s > 0 else o.u_hi[i]) for i, s in self.qp.layout.u_rows]

    @property
    def x_row_bounds(self) -> list[float]:
        o = self.ocp
        return [float(o.x_lo[i] if s > 0 else o.x_hi[i]) for i, s in self.qp.layout.x_rows]

    @property
    def memory_fields(self) -> tuple[tuple[str, tuple[int, ...], str], ...]:
        """Real arrays of the controller's static memory besides the QP structs."""
        m, N = self.model, self.N
        nz = lambda n: max(n, 1)  # noqa: E731
        ny = self.ny
        return (
            ("x", (N + 1, m.nx), "state trajectory (linearization point, then solution)"),
            ("u", (N, m.nu), "input trajectory"),
            ("x_trial", (N + 1, m.nx), "line-search trial point (solve mode)"),
            ("u_trial", (N, m.nu), ""),
            ("p", (N + 1, nz(m.np)), "parameters per stage"),
            ("x_ref", (N + 1, m.nx), "state references per stage"),
            ("u_ref", (N, m.nu), "input references per stage"),
            ("y_ref", (N, nz(ny)), "output references per stage"),
            ("Q", (N, m.nx * m.nx), "weights per stage"),
            ("R", (N, m.nu * m.nu), ""),
            ("W", (N, nz(ny * ny)), ""),
            ("P", (m.nx * m.nx,), "terminal weight"),
            ("u_bound", (nz(self.qp.layout.nbu),), "bound of each input box row"),
            ("x_bound", (nz(self.qp.layout.nbx),), "bound of each state box row"),
        )

    @property
    def memory_bytes(self) -> int:
        own = struct_bytes(self.memory_fields, self.qp.scalar_bytes)
        return own + self.qp.total_bytes

    @property
    def nominal_p(self) -> list[float]:
        return [v.nominal_value for v in self.model.parameters]

    @property
    def interface(self) -> "ControllerInterface":
        m = self.model
        return ControllerInterface(self.prefix, self.scalar.c_type, self.N, m.nx, m.nu, m.np, self.ny, self.nh,
                                   self.nhn, self.memory_bytes)


@dataclass(frozen=True)
class ControllerInterface:
    """The controller's C API: all the cffi binding needs (stored in the manifest)."""

    prefix: str
    c_type: str
    N: int
    nx: int
    nu: int
    np: int
    ny: int
    nh: int
    nhn: int
    memory_bytes: int

    @property
    def files(self) -> tuple[str, ...]:
        """Controller sources, header first: the SQP, the QP solver, the OCP's functions (if any)."""
        ocp = (f"{self.prefix}_ocp.h", f"{self.prefix}_ocp.c") if self.ny or self.nh or self.nhn else ()
        return (f"{self.prefix}_mpc.h", f"{self.prefix}_mpc.c", f"{self.prefix}_qp.h", f"{self.prefix}_qp.c", *ocp)

    @property
    def c_sources(self) -> tuple[str, ...]:
        """Every .c file a program with the controller compiles: the model's, then the controller's."""
        return (f"{self.prefix}.c", *(n for n in self.files if n.endswith(".c")))

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @staticmethod
    def from_json(data: dict) -> "ControllerInterface":
        return ControllerInterface(**{k: data[k] for k in ControllerInterface.__dataclass_fields__})


def structural_nonzeros(matrix: ca.SX) -> tuple[tuple[int, int], ...]:
    """(row, col) of each structural nonzero of an SX matrix."""
    sp = matrix.sparsity()
    return tuple(sorted(zip(sp.row(), sp.get_col())))


def build_mpc_program(ocp: CheckedOcp, d: Derivatives, source: str, ocp_functions: OcpProgram | None) -> MpcProgram:
    """The controller program for ``ocp`` on the derivatives ``d``, in the precision of its options,
    calling the OCP's functions ``ocp_functions`` (:func:`~.ocp_program.build_ocp_program`).

    The QP solver exploits the structural zeros of A and B when the Jacobians are
    unrolled over the whole sample (in the looped substep form the product of the
    substeps' Jacobians can fill in, so A and B are taken as dense).
    """
    m = ocp.model
    options = d.options
    scalar = SCALARS[options.precision]
    exact = d.repeats == 1
    layout = QpLayout.from_bounds(m.nx, m.nu, ocp.N, ocp.u_lo, ocp.u_hi, ocp.x_lo, ocp.x_hi,
                                  ng=ocp.h.numel(), ngn=ocp.h_terminal.numel(),
                                  a_pattern=structural_nonzeros(d.A) if exact else None,
                                  b_pattern=structural_nonzeros(d.B) if exact else None)
    prefix = m.name
    return MpcProgram(
        prefix=prefix,
        scalar=scalar,
        ocp=ocp,
        options_line=options.describe(),
        source=source,
        version=__version__,
        qp=QpProgram(prefix, scalar, layout, __version__),
        ocp_functions=ocp_functions,
    )
