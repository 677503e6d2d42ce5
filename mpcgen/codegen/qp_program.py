"""The shape of the stage-wise QP the generated solver handles.

The QP over N stages, in the variables x_0..x_N (x_0 fixed) and u_0..u_{N-1}:

    minimize  sum_k 1/2 [x;u]' [Q S'; S R] [x;u] + q'x + r'u  +  1/2 x_N' Q_N x_N + q_N'x_N
              + sum over soft rows (l1 s + 1/2 l2 s^2)
    subject to x_0 = x0,  x_{k+1} = A_k x_k + B_k u_k + c_k
               sign_j u_k[iu_j] >= bu_kj                 (hard input boxes, k = 0..N-1)
               sign_j x_k[ix_j] + s >= bx_kj,  s >= 0     (soft state boxes, k = 1..N)
               Cx_k x_k + Cu_k u_k - s <= d_k,  s >= 0    (soft general rows, k = 0..N-1)
               CN x_N - s <= dN,  s >= 0                  (soft terminal rows)

Which components have boxes, and with which sign, is fixed at generation time (the
finite bounds of the OCP); the bound values, matrices and vectors are data. A
:class:`QpLayout` holds that fixed part; the templates ``qp.h.j2``/``qp.c.j2`` turn
it into a solver whose loops all run over these constant sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import OptionsError
from .lower import Scalar

#: Default residual tolerances of the generated QP solver, per scalar type (about
#: eps^(1/2)): the accuracy a controller's QP solution is computed to.
DEFAULT_TOL = {"float": 1e-4, "double": 1e-8}


@dataclass(frozen=True)
class QpLayout:
    """Sizes and box-row patterns of a stage-wise QP (fixed at generation time)."""

    nx: int
    nu: int
    N: int
    #: hard input-box rows: (input index, +1 for a lower bound / -1 for an upper bound)
    u_rows: tuple[tuple[int, int], ...]
    #: soft state-box rows at stages 1..N, same convention
    x_rows: tuple[tuple[int, int], ...]
    ng: int = 0      # soft general rows per stage 0..N-1
    ngn: int = 0     # soft terminal rows
    #: structural nonzeros (row, col) of the dynamics matrices A and B, the same at every
    #: stage (the model's sparsity); None: dense. Entries outside are never read (they
    #: are taken as zero).
    a_pattern: tuple[tuple[int, int], ...] | None = None
    b_pattern: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.nx < 1 or self.nu < 1 or self.N < 1:
            raise OptionsError(f"QP: need nx, nu, N >= 1, got nx={self.nx} nu={self.nu} N={self.N}")
        for kind, rows, n in (("input", self.u_rows, self.nu), ("state", self.x_rows, self.nx)):
            for index, sign in rows:
                if not 0 <= index < n or sign not in (1, -1):
                    raise OptionsError(f"QP: bad {kind} box row ({index}, {sign})")
        for which, pattern, cols in (("A", self.a_pattern, self.nx), ("B", self.b_pattern, self.nu)):
            for r, c in pattern or ():
                if not (0 <= r < self.nx and 0 <= c < cols):
                    raise OptionsError(f"QP: {which} pattern entry ({r}, {c}) is outside {self.nx}x{cols}")

    @staticmethod
    def from_bounds(nx: int, nu: int, N: int, u_lo, u_hi, x_lo, x_hi, ng: int = 0, ngn: int = 0,
                    a_pattern=None, b_pattern=None) -> "QpLayout":
        """Rows for every finite bound (lower bounds first, then upper, by index)."""
        def rows(lo, hi) -> tuple[tuple[int, int], ...]:
            lo, hi = np.asarray(lo, float), np.asarray(hi, float)
            return (tuple((int(i), 1) for i in np.flatnonzero(np.isfinite(lo)))
                    + tuple((int(i), -1) for i in np.flatnonzero(np.isfinite(hi))))
        return QpLayout(nx, nu, N, rows(u_lo, u_hi), rows(x_lo, x_hi), ng, ngn, a_pattern, b_pattern)

    def _pattern(self, which: str) -> tuple[tuple[int, int], ...]:
        cols = self.nx if which == "A" else self.nu
        given = self.a_pattern if which == "A" else self.b_pattern
        if given is None:
            return tuple((i, j) for i in range(self.nx) for j in range(cols))
        return tuple(sorted(set(given)))

    def col_terms(self, which: str, j: int) -> list[tuple[int, int]]:
        """(l, flat index of M[l][j]) for the structural nonzeros of column j of A or B."""
        cols = self.nx if which == "A" else self.nu
        return [(l, l * cols + c) for l, c in self._pattern(which) if c == j]

    def row_terms(self, which: str, i: int) -> list[tuple[int, int]]:
        """(c, flat index of M[i][c]) for the structural nonzeros of row i of A or B."""
        cols = self.nx if which == "A" else self.nu
        return [(c, r * cols + c) for r, c in self._pattern(which) if r == i]

    def nnz(self, which: str) -> int:
        return len(self._pattern(which))

    @property
    def nbu(self) -> int:
        return len(self.u_rows)

    @property
    def nbx(self) -> int:
        return len(self.x_rows)

    @property
    def n_hard(self) -> int:
        """Hard rows in all: input boxes at every stage."""
        return self.N * self.nbu

    @property
    def n_soft(self) -> int:
        """Soft rows in all: state boxes (stages 1..N), general and terminal rows."""
        return self.N * self.nbx + self.N * self.ng + self.ngn

    @property
    def n_rows(self) -> int:
        return self.n_hard + self.n_soft

    def describe(self) -> str:
        return (f"N={self.N}, nx={self.nx}, nu={self.nu}, {self.nbu} input box rows (hard), "
                f"{self.nbx} state box rows, {self.ng} general rows, {self.ngn} terminal rows (soft); "
                f"A has {self.nnz('A')} and B {self.nnz('B')} structural nonzeros")


#: (array name, shape as a function of the layout) of the QP data, in struct order.
def data_fields(layout: QpLayout) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Fields of the QP data struct: (name, shape, meaning). Sizes of 0 are stored as 1."""
    L = layout
    nz = lambda n: max(n, 1)  # noqa: E731  (C99 has no zero-length arrays)
    return (
        ("x0", (L.nx,), "fixed initial state"),
        ("A", (L.N, L.nx * L.nx), "dynamics x_{k+1} = A_k x_k + B_k u_k + c_k (row-major)"),
        ("B", (L.N, L.nx * L.nu), ""),
        ("c", (L.N, L.nx), ""),
        ("Q", (L.N + 1, L.nx * L.nx), "stage Hessian [Q S'; S R] (Q[N] is the terminal Hessian)"),
        ("S", (L.N, L.nu * L.nx), ""),
        ("R", (L.N, L.nu * L.nu), ""),
        ("q", (L.N + 1, L.nx), "stage gradient (q, r)"),
        ("r", (L.N, L.nu), ""),
        ("bu", (L.N, nz(L.nbu)), "input box row j: sign_j u_k[index_j] >= bu[k][j]"),
        ("bx", (L.N + 1, nz(L.nbx)), "state box row j: sign_j x_k[index_j] + s >= bx[k][j] (k >= 1)"),
        ("Cx", (L.N, nz(L.ng * L.nx)), "general rows: Cx_k x_k + Cu_k u_k - s <= d_k"),
        ("Cu", (L.N, nz(L.ng * L.nu)), ""),
        ("d", (L.N, nz(L.ng)), ""),
        ("CN", (nz(L.ngn * L.nx),), "terminal rows: CN x_N - s <= dN"),
        ("dN", (nz(L.ngn),), ""),
        ("l1", (1,), "slack penalty l1 s + 1/2 l2 s^2 of every soft row"),
        ("l2", (1,), ""),
    )


def solution_fields(layout: QpLayout) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Fields of the QP iterate/solution struct."""
    L = layout
    nz = lambda n: max(n, 1)  # noqa: E731
    return (
        ("x", (L.N + 1, L.nx), "states (x[0] = x0)"),
        ("u", (L.N, L.nu), "inputs"),
        ("pi", (L.N, L.nx), "multipliers of the dynamics"),
        ("t", (nz(L.n_rows),), "inequality slacks, hard rows first"),
        ("lam", (nz(L.n_rows),), "inequality multipliers"),
        ("s", (nz(L.n_soft),), "soft-row relaxations"),
        ("nu", (nz(L.n_soft),), "multipliers of s >= 0"),
    )


def work_fields(layout: QpLayout) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Fields of the solver's workspace struct (everything one solve needs besides data and iterate)."""
    L = layout
    nz = lambda n: max(n, 1)  # noqa: E731
    m, ms = nz(L.n_rows), nz(L.n_soft)
    return (
        ("P", (L.N + 1, L.nx * L.nx), "Riccati cost-to-go Hessians"),
        ("p", (L.N + 1, L.nx), "Riccati cost-to-go gradients"),
        ("K", (L.N, L.nu * L.nx), "feedback gains du = K dx + k"),
        ("k", (L.N, L.nu), ""),
        ("Lr", (L.N, L.nu * L.nu), "Cholesky factor of R + B'PB"),
        ("gx", (L.N + 1, L.nx), "cost gradient at the iterate"),
        ("gu", (L.N, L.nu), ""),
        ("hx", (L.N + 1, L.nx), "gradient of the Newton (LQ) subproblem"),
        ("hu", (L.N, L.nu), ""),
        ("b", (L.N, L.nx), "dynamics residual"),
        ("dx", (L.N + 1, L.nx), "Newton step"),
        ("du", (L.N, L.nu), ""),
        ("dpi", (L.N, L.nx), "multipliers of the Newton subproblem"),
        ("v", (m,), "row values / row steps"),
        ("rp", (m,), "row residuals t - value - s"),
        ("rc", (m,), "complementarity right-hand sides"),
        ("w", (m,), "lam / t"),
        ("gam", (m,), "row gradient coefficients"),
        ("dt", (m,), "row steps"),
        ("dlam", (m,), ""),
        ("rs", (ms,), "soft-row stationarity residuals"),
        ("rcs", (ms,), ""),
        ("den", (ms,), ""),
        ("e", (ms,), ""),
        ("ds", (ms,), ""),
        ("dnu", (ms,), ""),
        # the best iterate so far (returned when the iterations stall or hit the cap)
        *((f"best_{name}", shape, "best iterate" if name == "x" else "")
          for name, shape, _ in solution_fields(layout)),
    )


def struct_bytes(fields, scalar_bytes: int) -> int:
    """Bytes of the arrays of a struct (alignment padding aside: all fields are real arrays)."""
    return sum(int(np.prod(shape)) for _, shape, _ in fields) * scalar_bytes


@dataclass(frozen=True)
class QpProgram:
    """What the QP templates render: a layout in one scalar type under one prefix."""

    prefix: str
    scalar: Scalar
    layout: QpLayout
    version: str

    @property
    def c_type(self) -> str:
        return self.scalar.c_type

    @property
    def is_float(self) -> bool:
        return self.scalar.name == "float"

    def literal(self, value: float) -> str:
        return self.scalar.literal(value)

    def _libm(self, name: str) -> str:
        return name + "f" if self.is_float else name

    @property
    def sqrt(self) -> str:
        return self._libm("sqrt")

    @property
    def fabs(self) -> str:
        return self._libm("fabs")

    @property
    def fmax(self) -> str:
        return self._libm("fmax")

    @property
    def fmin(self) -> str:
        return self._libm("fmin")

    @property
    def default_tol(self) -> float:
        """Absolute tolerances of the residuals: about eps^(1/2) of the scalar type."""
        return DEFAULT_TOL["float" if self.is_float else "double"]

    @property
    def default_tol_comp(self) -> float:
        """Average complementarity, relative to the gradient scale max(1, |q|, |r|, l1)."""
        return 1e-6 if self.is_float else 1e-10

    @property
    def default_reg(self) -> float:
        return 1e-6 if self.is_float else 1e-10

    @property
    def min_step(self) -> float:
        return 1e-7 if self.is_float else 1e-12

    @property
    def default_warm_floor(self) -> float:
        """Smallest multiplier and soft-row relaxation of a warm start. Low enough that
        the inactive rows' t * lam and s * nu start below the float complementarity
        tolerance (a steady-state real-time iteration then needs one interior-point
        iteration, not two: 1e-3 needed two), high enough that a row becoming active
        can raise its multiplier in a few."""
        return 1e-4

    @property
    def default_warm_floor_slack(self) -> float:
        """Smallest row slack t of a warm start: an active row's slack at 1e-4 left the
        float robot arm's first step shorter than min_step (1e-7)."""
        return 1e-3

    @property
    def tiny(self) -> float:
        """Floor of slacks and multipliers (keeps lam/t finite near degenerate solutions)."""
        return 1e-12 if self.is_float else 1e-30

    default_max_iter: ClassVar[int] = 30

    # Terms (vector index, matrix index) of the unrolled sparse sums in the Riccati sweep.
    def btpb_terms(self, i: int, j: int) -> list[tuple[int, int]]:
        """(B'PB)[i][j] = sum over l in column i of B of PB[l][j] * B[l][i]."""
        nu = self.layout.nu
        return [(l * nu + j, idx) for l, idx in self.layout.col_terms("B", i)]

    def strided_col_terms(self, a: int) -> list[tuple[int, int]]:
        """(B'PA)[a][j] = sum over l in column a of B of PA[l][j] * B[l][a], PA offset by j."""
        nx = self.layout.nx
        return [(l * nx, idx) for l, idx in self.layout.col_terms("B", a)]

    @property
    def sb_from_pb(self) -> bool:
        """Form B'PA as (PB)'A (nu * nnz(A) products) rather than B'(PA) (nx * nnz(B))."""
        L = self.layout
        return L.nu * L.nnz("A") <= L.nx * L.nnz("B")

    def pba_terms(self, j: int, a: int) -> list[tuple[int, int]]:
        """((PB)'A)[a][j] = sum over l in column j of A of PB[l][a] * A[l][j]."""
        nu = self.layout.nu
        return [(l * nu + a, idx) for l, idx in self.layout.col_terms("A", j)]

    def strided_col_terms_a(self, i: int) -> list[tuple[int, int]]:
        """(A'PA)[i][j] = sum over l in column i of A of PA[l][j] * A[l][i], PA offset by j."""
        nx = self.layout.nx
        return [(l * nx, idx) for l, idx in self.layout.col_terms("A", i)]

    def sbk_strided_terms(self, i: int) -> list[tuple[int, int]]:
        """(Sb'K)[i][j] = sum over inputs a of K[a][j] * Sb[a][i], K offset by j."""
        nx = self.layout.nx
        return [(a * nx, a * nx + i) for a in range(self.layout.nu)]

    def sbk_terms(self, i: int) -> list[tuple[int, int]]:
        """(M'v)[i] = sum over inputs a of v[a] * M[a][i] for an nu x nx matrix M (K'r)."""
        nx = self.layout.nx
        return [(a, a * nx + i) for a in range(self.layout.nu)]

    @property
    def data_fields(self):
        return data_fields(self.layout)

    @property
    def solution_fields(self):
        return solution_fields(self.layout)

    @property
    def work_fields(self):
        return work_fields(self.layout)

    @property
    def scalar_bytes(self) -> int:
        return 4 if self.is_float else 8

    @property
    def data_bytes(self) -> int:
        return struct_bytes(self.data_fields, self.scalar_bytes)

    @property
    def solution_bytes(self) -> int:
        return struct_bytes(self.solution_fields, self.scalar_bytes)

    @property
    def work_bytes(self) -> int:
        return struct_bytes(self.work_fields, self.scalar_bytes)

    @property
    def stack_bytes(self) -> int:
        """Arrays on the stack in the deepest call: the Riccati sweep's P*A and P*B, its
        stage Hessians and S + B'PA."""
        L = self.layout
        return (2 * L.nx * L.nx + 3 * L.nx * L.nu + L.nu * L.nu) * self.scalar_bytes

    @property
    def total_bytes(self) -> int:
        return self.data_bytes + self.solution_bytes + self.work_bytes
