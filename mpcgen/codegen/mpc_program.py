"""Assemble the C program of an MPC from its OCP.

Decides *what* the generated controller contains: the QP layout (which bounds give
rows), which of the OCP's own functions it calls (least-squares outputs y, path
constraints h, terminal constraints h_N, each with its Jacobians: public functions of
``PREFIX_ocp.c``, see :mod:`.ocp_program`), the default weights, references and bounds
the controller starts with, and the memory it needs. The templates ``mpc.h.j2`` /
``mpc.c.j2`` decide how it looks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import casadi as ca
import numpy as np

from ..derivatives.jacobians import Derivatives
from ..problem.ocp import CheckedOcp
from ..version import __version__
from .lower import SCALARS, Scalar
from .ocp_program import OcpProgram
from .qp_layout import QpLayout, lower_pattern
from .qp_program import QpProgram, struct_bytes
from .step_bound import StepBound


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
    #: the sample time [s]: one real-time step per sample
    ts: float
    #: worst-case instructions of a real-time step on the Cortex-M4F (float only; see
    #: step_bound), set once the model's program is known
    bound: StepBound | None = None

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

    @property
    def magnitude_max(self) -> float:
        return MAGNITUDE_MAX[self.scalar.c_type]

    @property
    def runtime_bounds(self) -> bool:
        return self.ocp.runtime_bounds

    @property
    def hard_rows(self) -> bool:
        """True if a state box, general or terminal row is hard (settings.hard_tol, stats.hard_next)."""
        return self.qp.layout.any_hard_relaxed

    def literal(self, value: float) -> str:
        return self.scalar.literal(value)

    def array(self, values) -> str:
        """A C initializer list of literals for a flat sequence (row-major for matrices)."""
        flat = np.asarray(values, dtype=float).reshape(-1)
        return "{" + ", ".join(self.literal(v) for v in flat) + "}" if flat.size else "{" + self.literal(0.0) + "}"

    @property
    def inverse_input_ranges(self) -> list[float]:
        width = self.ocp.u_hi - self.ocp.u_lo
        return [1.0 / w if w > 0 else 0.0 for w in width]

    @property
    def u_row_bounds(self) -> list[float]:
        o = self.ocp
        return [float(o.u_lo[i] if s > 0 else o.u_hi[i]) for i, s in self.qp.layout.u_rows]

    @property
    def x_row_bounds(self) -> list[float]:
        o = self.ocp
        return [float(o.x_lo[i] if s > 0 else o.x_hi[i]) for i, s in self.qp.layout.x_rows]

    # Weights: stored as the entries of the QP's patterns (lower triangles) --------------------
    def pattern(self, which: str) -> tuple[tuple[int, int], ...]:
        """Stored entries of the weights: "Q", "R" (stage), "QN" (terminal P), "W" (outputs y)."""
        if which == "W":
            return lower_pattern(self.ocp.W) if self.ny else ()
        return self.qp.layout.pattern(which)

    def nnz(self, which: str) -> int:
        return len(self.pattern(which))

    def packed(self, which: str, matrix) -> list[float]:
        """The stored entries of a dense symmetric weight, in the pattern's order."""
        m = np.asarray(matrix, dtype=float)
        return [float(m[i, j]) for i, j in self.pattern(which)] or [0.0]

    def sym_terms(self, which: str, i: int) -> list[tuple[int, int]]:
        """(j, stored index) of row i of a stored symmetric weight (Q, R, QN or W)."""
        if which == "W":
            idx = {rc: n for n, rc in enumerate(self.pattern("W"))}
            return [(j, idx[max(i, j), min(i, j)]) for j in range(self.ny) if (max(i, j), min(i, j)) in idx]
        return self.qp.layout.sym_row_terms(which, i)

    def outside(self, which: str) -> list[int]:
        """Row-major dense indices a setter requires to be zero: outside the pattern."""
        n = self.ny if which == "W" else (self.model.nu if which == "R" else self.model.nx)
        inside = {(max(i, j), min(i, j)) for i, j in self.pattern(which)}
        return [i * n + j for i in range(n) for j in range(n) if (max(i, j), min(i, j)) not in inside]

    def sym_store(self, which: str) -> list[tuple[int, int, int]]:
        """(stored index, row-major index (i, j), mirrored index (j, i)) of each stored entry."""
        n = self.ny if which == "W" else (self.model.nu if which == "R" else self.model.nx)
        return [(k, i * n + j, j * n + i) for k, (i, j) in enumerate(self.pattern(which))]

    # Gauss-Newton on the outputs y: J'WJ over the Jacobians' structural nonzeros ------------
    def _jacobian_nonzeros(self, output: str) -> set[tuple[int, int]]:
        f = next(f for f in self.ocp_functions.functions if f.name == "y")
        out = next(o for o in f.block.outputs if o.name == output)
        zeros = set(out.zeros)
        return {(i // out.cols, i % out.cols) for i in range(out.size) if i not in zeros}

    def wj_terms(self, output: str) -> list[tuple[int, list[tuple[int, int]]]]:
        """(row-major index l*n + j, terms) of (W J)[l][j] = sum over m of J[m][j] * W(l, m), for
        J = Jx or Ju, over the structural nonzeros; terms are (index into J, stored W index)."""
        n = self.model.nx if output == "Jx" else self.model.nu
        J = self._jacobian_nonzeros(output)
        out = []
        for l in range(self.ny):
            for j in range(n):
                terms = [(m * n + j, w) for m, w in self.sym_terms("W", l) if (m, j) in J]
                if terms:
                    out.append((l * n + j, terms))
        return out

    def jwj_terms(self, left: str, right: str, a: int, b: int) -> list[tuple[int, int]]:
        """(J_left' W J_right)[a][b] = sum over l of J_left[l][a] * (W J_right)[l][b]."""
        nl = self.model.nx if left == "Jx" else self.model.nu
        nr = self.model.nx if right == "Jx" else self.model.nu
        Jl = self._jacobian_nonzeros(left)
        WJ = {i for i, _ in self.wj_terms(right)}
        return [(l * nl + a, l * nr + b) for l in range(self.ny) if (l, a) in Jl and l * nr + b in WJ]

    def jt_terms(self, output: str, i: int) -> list[tuple[int, int]]:
        """(J' v)[i] = sum over the nonzeros of column i of J of v[l] * J[l][i]."""
        n = self.model.nx if output == "Jx" else self.model.nu
        J = self._jacobian_nonzeros(output)
        return [(l, l * n + i) for l in range(self.ny) if (l, i) in J]

    def gn_pattern(self, left: str, right: str) -> set[tuple[int, int]]:
        """Entries (a, b) of J_left' W J_right that are structurally nonzero."""
        nl = self.model.nx if left == "Jx" else self.model.nu
        nr = self.model.nx if right == "Jx" else self.model.nu
        return {(a, b) for a in range(nl) for b in range(nr) if self.jwj_terms(left, right, a, b)}

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
            ("Q", (N, nz(self.nnz("Q"))), "weights per stage: the patterns' lower-triangle entries"),
            ("R", (N, nz(self.nnz("R"))), ""),
            ("W", (N, nz(self.nnz("W"))), ""),
            ("P", (nz(self.nnz("QN")),), "terminal weight"),
        ) + (self._stage_bounds if self.ocp.runtime_bounds else (
            ("u_bound", (nz(self.qp.layout.nbu),), "bound of each input box row"),
            ("x_bound", (nz(self.qp.layout.nbx),), "bound of each state box row"),
        ))

    @property
    def _stage_bounds(self) -> tuple[tuple[str, tuple[int, ...], str], ...]:
        """With runtime bounds: the rows' bounds and the clamp's limits per stage."""
        m, N, L = self.model, self.N, self.qp.layout
        return (
            ("u_bound", (N, max(L.nbu, 1)), "bound of each input box row, per stage (settable)"),
            ("x_bound", (N + 1, max(L.nbx, 1)), "bound of each state box row, per stage 1..N (settable)"),
            ("u_lo", (N, m.nu), "input bounds per stage (the control is clamped to stage 0's)"),
            ("u_hi", (N, m.nu), ""),
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
                                   self.nhn, self.memory_bytes, self.ocp.runtime_bounds, self.hard_rows)


#: largest |entry| of a reference or weight the controller's setters accept, by scalar: larger
#: values overflow the cost and the QP's products (squares, Riccati products)
MAGNITUDE_MAX = {"double": 1e30, "float": 1e10}


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
    runtime_bounds: bool = False
    hard_rows: bool = False

    @property
    def magnitude_max(self) -> float:
        return MAGNITUDE_MAX[self.c_type]

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
        return ControllerInterface(**{k: data[k] for k in ControllerInterface.__dataclass_fields__ if k in data})


def structural_nonzeros(matrix: ca.SX) -> tuple[tuple[int, int], ...]:
    """(row, col) of each structural nonzero of an SX matrix."""
    sp = matrix.sparsity()
    return tuple(sorted(zip(sp.row(), sp.get_col())))


def constant_entries(matrix: ca.SX) -> tuple[tuple[tuple[int, int], float], ...]:
    """((row, col), value) of the structural nonzeros of an SX matrix that are constants."""
    return tuple(((r, c), float(matrix[r, c])) for r, c in structural_nonzeros(matrix) if matrix[r, c].is_constant())


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
    prefix = m.name

    def program(layout: QpLayout) -> MpcProgram:
        return MpcProgram(prefix=prefix, scalar=scalar, ocp=ocp, options_line=options.describe(), source=source,
                          version=__version__, qp=QpProgram(prefix, scalar, layout, __version__),
                          ocp_functions=ocp_functions, ts=options.ts)

    layout = QpLayout.from_bounds(m.nx, m.nu, ocp.N, ocp.u_lo, ocp.u_hi, ocp.x_lo, ocp.x_hi,
                                  ng=ocp.h.numel(), ngn=ocp.h_terminal.numel(),
                                  hard_x=ocp.x_hard, hard_g=ocp.h_hard, hard_gn=ocp.h_terminal_hard,
                                  a_pattern=structural_nonzeros(d.A) if exact else None,
                                  b_pattern=structural_nonzeros(d.B) if exact else None,
                                  q_pattern=lower_pattern(ocp.Q), r_pattern=lower_pattern(ocp.R), s_pattern=(),
                                  qn_pattern=lower_pattern(ocp.P),
                                  a_constants=constant_entries(d.A) if exact else (),
                                  b_constants=constant_entries(d.B) if exact else ())
    if not ocp.y.numel():
        return program(layout)
    # Gauss-Newton adds J'WJ of the outputs: its structural nonzeros join the Hessian patterns
    draft = program(layout)
    gn = {(w, v): draft.gn_pattern(w, v) for w, v in (("Jx", "Jx"), ("Ju", "Jx"), ("Ju", "Ju"))}
    lower = lambda entries: {(max(a, b), min(a, b)) for a, b in entries}  # noqa: E731
    return program(dataclasses.replace(
        layout, q_pattern=tuple(sorted(set(layout.q_pattern) | lower(gn["Jx", "Jx"]))),
        r_pattern=tuple(sorted(set(layout.r_pattern) | lower(gn["Ju", "Ju"]))),
        s_pattern=tuple(sorted(gn["Ju", "Jx"]))))
