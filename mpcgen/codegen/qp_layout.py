"""The fixed part of the stage-wise QP the generated solver handles: sizes, rows, patterns.

The QP over N stages, in the variables x_0..x_N (x_0 fixed) and u_0..u_{N-1}:

    minimize  sum_k 1/2 [x;u]' [Q S'; S R] [x;u] + q'x + r'u  +  1/2 x_N' Q_N x_N + q_N'x_N
              + sum over soft rows (l1 s + 1/2 l2 s^2)
    subject to x_0 = x0,  x_{k+1} = A_k x_k + B_k u_k + c_k
               sign_j u_k[iu_j] >= bu_kj                 (hard input boxes, k = 0..N-1)
               sign_j x_k[ix_j] + s >= bx_kj,  s >= 0     (state boxes, k = 1..N)
               Cx_k x_k + Cu_k u_k - s <= d_k,  s >= 0    (general rows, k = 0..N-1)
               CN x_N - s <= dN,  s >= 0                  (terminal rows)

State boxes, general and terminal rows are soft unless marked hard (``hard_x``,
``hard_g``, ``hard_gn``): a hard row of theirs keeps its place among the soft rows
(the Riccati sweep reads every row's barrier weight by position alone) but has no
relaxation: its s stays 0 and its nu, penalty and complementarity pair are left out.

Fixed at generation time, and so known to every loop of the solver: which components
have boxes and with which sign (the finite bounds of the OCP), and the structural
nonzeros of every matrix: A and B (the model's Jacobian patterns), the stage Hessian
blocks Q, S, R and the terminal Q_N (the OCP's weight patterns). Only those entries are
stored and multiplied; the values are data. Symmetric matrices keep their lower
triangle, row by row: entry (i, j), i >= j, of an n x n matrix is ``tri(i, j)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OptionsError

Pattern = tuple[tuple[int, int], ...]


def tri(i: int, j: int) -> int:
    """Packed index of entry (i, j) of a symmetric matrix stored as its lower triangle."""
    if i < j:
        i, j = j, i
    return i * (i + 1) // 2 + j


def lower_dense(n: int) -> Pattern:
    """Every entry of the lower triangle of an n x n matrix, row by row."""
    return tuple((i, j) for i in range(n) for j in range(i + 1))


def lower_pattern(matrix, extra_diagonal: bool = True) -> Pattern:
    """The lower-triangle entries (i >= j) where a symmetric matrix is nonzero, and its diagonal."""
    m = np.asarray(matrix, dtype=float)
    n = m.shape[0]
    return tuple((i, j) for i in range(n) for j in range(i + 1)
                 if m[i, j] != 0 or m[j, i] != 0 or (extra_diagonal and i == j))


@dataclass(frozen=True)
class QpLayout:
    """Sizes, box-row patterns and matrix sparsity of a stage-wise QP (fixed at generation time)."""

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
    #: stage (the model's sparsity); None: dense. Only these entries are stored.
    a_pattern: Pattern | None = None
    b_pattern: Pattern | None = None
    #: lower-triangle entries of the stage Hessian blocks Q (nx x nx) and R (nu x nu) and of
    #: the terminal Q_N, entries of S (nu x nx); None: dense. The diagonals of Q, R and Q_N
    #: are always kept (regularization adds to them).
    q_pattern: Pattern | None = None
    r_pattern: Pattern | None = None
    s_pattern: Pattern | None = None
    qn_pattern: Pattern | None = None
    #: entries of A and B that are constants of the model ((row, col), value), known at
    #: generation time (a kinematic chain's 1 and Ts): the solver writes them as literals
    #: and never reads them from the data. They must lie in the patterns.
    a_constants: tuple[tuple[tuple[int, int], float], ...] = ()
    b_constants: tuple[tuple[tuple[int, int], float], ...] = ()
    #: rows without relaxation: the states whose box rows are hard, the general rows j
    #: (0..ng-1, at every stage) and the terminal rows that are hard
    hard_x: tuple[int, ...] = ()
    hard_g: tuple[int, ...] = ()
    hard_gn: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.nx < 1 or self.nu < 1 or self.N < 1:
            raise OptionsError(f"QP: need nx, nu, N >= 1, got nx={self.nx} nu={self.nu} N={self.N}")
        for kind, rows, n in (("input", self.u_rows, self.nu), ("state", self.x_rows, self.nx)):
            for index, sign in rows:
                if not 0 <= index < n or sign not in (1, -1):
                    raise OptionsError(f"QP: bad {kind} box row ({index}, {sign})")
        for kind, given, n in (("state", self.hard_x, self.nx), ("general row", self.hard_g, self.ng),
                               ("terminal row", self.hard_gn, self.ngn)):
            if any(not 0 <= i < n for i in given):
                raise OptionsError(f"QP: hard {kind} index out of range in {given} (there are {n})")
        for which, (rows, cols) in (("A", (self.nx, self.nx)), ("B", (self.nx, self.nu)),
                                    ("S", (self.nu, self.nx)), ("Q", (self.nx, self.nx)),
                                    ("R", (self.nu, self.nu)), ("QN", (self.nx, self.nx))):
            given = getattr(self, _FIELD[which])
            for r, c in given or ():
                if not (0 <= r < rows and 0 <= c < cols) or (which in _SYMMETRIC and c > r):
                    raise OptionsError(f"QP: {which} pattern entry ({r}, {c}) is outside "
                                       f"{'the lower triangle of ' if which in _SYMMETRIC else ''}{rows}x{cols}")

    @staticmethod
    def from_bounds(nx: int, nu: int, N: int, u_lo, u_hi, x_lo, x_hi, ng: int = 0, ngn: int = 0,
                    a_pattern=None, b_pattern=None, **patterns) -> "QpLayout":
        """Rows for every finite bound (lower bounds first, then upper, by index)."""
        def rows(lo, hi) -> tuple[tuple[int, int], ...]:
            lo, hi = np.asarray(lo, float), np.asarray(hi, float)
            return (tuple((int(i), 1) for i in np.flatnonzero(np.isfinite(lo)))
                    + tuple((int(i), -1) for i in np.flatnonzero(np.isfinite(hi))))
        return QpLayout(nx, nu, N, rows(u_lo, u_hi), rows(x_lo, x_hi), ng, ngn, a_pattern, b_pattern, **patterns)

    # Patterns, as stored ------------------------------------------------------------
    def pattern(self, which: str) -> Pattern:
        """The stored entries of A, B, S (row, col) or of the lower triangles of Q, R, QN, in order."""
        given = getattr(self, _FIELD[which])
        n = {"A": (self.nx, self.nx), "B": (self.nx, self.nu), "S": (self.nu, self.nx)}
        if which in n:
            rows, cols = n[which]
            return tuple(sorted(set(given))) if given is not None else \
                tuple((i, j) for i in range(rows) for j in range(cols))
        size = self.nu if which == "R" else self.nx
        if given is None:
            return lower_dense(size)
        return tuple(sorted(set(given) | {(i, i) for i in range(size)}))

    def nnz(self, which: str) -> int:
        return len(self.pattern(which))

    def index(self, which: str) -> dict[tuple[int, int], int]:
        """(row, col) -> position in the stored array; symmetric matrices by their lower entry."""
        return {rc: n for n, rc in enumerate(self.pattern(which))}

    def col_terms(self, which: str, j: int) -> list[tuple[int, int]]:
        """(row l, stored index) of the nonzeros of column j of A, B or S."""
        return [(r, n) for n, (r, c) in enumerate(self.pattern(which)) if c == j]

    def row_terms(self, which: str, i: int) -> list[tuple[int, int]]:
        """(column c, stored index) of the nonzeros of row i of A, B or S."""
        return [(c, n) for n, (r, c) in enumerate(self.pattern(which)) if r == i]

    def sym_row_terms(self, which: str, i: int) -> list[tuple[int, int]]:
        """(column j, stored index) of every nonzero of row i of the symmetric Q, R or QN."""
        idx = self.index(which)
        size = self.nu if which == "R" else self.nx
        return [(j, idx[max(i, j), min(i, j)]) for j in range(size) if (max(i, j), min(i, j)) in idx]

    def constants(self, which: str) -> dict[int, float]:
        """Stored index -> value of the constant entries of A or B."""
        given = self.a_constants if which == "A" else self.b_constants
        idx = self.index(which)
        return {idx[rc]: float(v) for rc, v in given}

    # Rows ----------------------------------------------------------------------------
    @property
    def nbu(self) -> int:
        return len(self.u_rows)

    @property
    def nbx(self) -> int:
        return len(self.x_rows)

    def box_pairs(self, kind: str) -> list[tuple[int, int, int]]:
        """The two-sided boxes of ``kind`` ("u" or "x"), each once: (row j, the row bounding
        the same variable from the other side, the variable's index); for "x" only soft
        (relaxed) states. The real-time warm start floors both rows' slacks at
        rt_floor_slack * w and an input's multipliers at rt_floor * h * w (w the box's
        width, h the input's Hessian diagonal: the cost gradient's change across the box),
        so the floors follow the row's units (the CSTR's coolant flow spans 8,500, the
        quadrotor's rotors 3.5)."""
        rows = self.u_rows if kind == "u" else self.x_rows
        pairs = []
        for j, (index, sign) in enumerate(rows):
            other = next((r for r, (i2, s2) in enumerate(rows) if i2 == index and s2 == -sign), -1)
            if other > j and not (kind == "x" and index in self.hard_x):
                pairs.append((j, other, index))
        return pairs

    def box_partners(self, kind: str) -> dict[int, tuple[int, int]]:
        """:meth:`box_pairs` by row: each row of a pair -> (the other row, the variable's index)."""
        return {row: (other, index) for j, pair, index in self.box_pairs(kind)
                for row, other in ((j, pair), (pair, j))}

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

    def relaxed(self) -> tuple[bool, ...]:
        """Per row from ROW_X on (the soft block, in order): True where it has a relaxation s."""
        x = tuple(index not in self.hard_x for index, _ in self.x_rows)
        g = tuple(j not in self.hard_g for j in range(self.ng))
        return x * self.N + g * self.N + tuple(j not in self.hard_gn for j in range(self.ngn))

    @property
    def any_hard_relaxed(self) -> bool:
        """True if a row of the soft block is hard (the solver then masks the relaxations)."""
        return not all(self.relaxed())

    @property
    def n_relaxed(self) -> int:
        """Rows with a relaxation s: the soft rows proper."""
        return sum(self.relaxed())

    def describe(self) -> str:
        hard = (f" ({len(self.hard_x)} states, {len(self.hard_g)} general and {len(self.hard_gn)} terminal "
                f"rows of them hard)" if self.any_hard_relaxed else "")
        return (f"N={self.N}, nx={self.nx}, nu={self.nu}, {self.nbu} input box rows (hard), "
                f"{self.nbx} state box rows, {self.ng} general rows, {self.ngn} terminal rows (soft){hard}; "
                f"A has {self.nnz('A')} and B {self.nnz('B')} structural nonzeros, the stage Hessian "
                f"{self.nnz('Q')} + {self.nnz('S')} + {self.nnz('R')} (Q, S, R; lower triangles)")


_FIELD = {"A": "a_pattern", "B": "b_pattern", "S": "s_pattern", "Q": "q_pattern", "R": "r_pattern",
          "QN": "qn_pattern"}
_SYMMETRIC = ("Q", "R", "QN")
