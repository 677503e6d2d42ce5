"""What the QP templates render: the structs of a layout and the terms of the unrolled kernels.

The solver is a primal-dual interior point whose Newton systems are solved by a Riccati
recursion over the stages; every product runs over structural nonzeros known at
generation time (:mod:`.qp_layout`). Python decides which terms a sum has; the
templates ``qp_*.j2`` write them. A term list is [(index into a vector, index into a
stored matrix)], rendered by the ``ssum`` macro as ``v[i] * M[n] + ...``.

Symmetric matrices (the cost-to-go P_k, the stage Hessians) are stored as lower
triangles (``tri``); the factorization keeps the current P_{k+1} dense on the stack.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .lower import Scalar
from .qp_layout import QpLayout, tri
from .tiles import Factor, Tile, tile_product

#: Default residual tolerances of the generated QP solver, per scalar type (about
#: eps^(1/2)): the accuracy a controller's QP solution is computed to.
DEFAULT_TOL = {"float": 1e-4, "double": 1e-8}

Terms = list[tuple[int, int]]


def _nz(n: int) -> int:
    return max(n, 1)  # C99 has no zero-length arrays


def data_fields(layout: QpLayout) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Fields of the QP data struct: (name, shape, meaning). Sizes of 0 are stored as 1."""
    L = layout
    return (
        ("x0", (L.nx,), "fixed initial state"),
        ("A", (L.N, _nz(L.nnz("A"))), "dynamics x_{k+1} = A_k x_k + B_k u_k + c_k: structural nonzeros of A_k"),
        ("B", (L.N, _nz(L.nnz("B"))), "structural nonzeros of B_k (order: PREFIX_QP_A_ROWS/COLS, _B_ROWS/COLS)"),
        ("c", (L.N, L.nx), ""),
        ("Q", (L.N, _nz(L.nnz("Q"))), "stage Hessian [Q S'; S R]: the pattern's entries, Q and R lower triangles"),
        ("S", (L.N, _nz(L.nnz("S"))), ""),
        ("R", (L.N, _nz(L.nnz("R"))), ""),
        ("QN", (_nz(L.nnz("QN")),), "terminal Hessian, lower triangle (pattern)"),
        ("q", (L.N + 1, L.nx), "stage gradient (q, r)"),
        ("r", (L.N, L.nu), ""),
        ("bu", (L.N, _nz(L.nbu)), "input box row j: sign_j u_k[index_j] >= bu[k][j]"),
        ("bx", (L.N + 1, _nz(L.nbx)), "state box row j: sign_j x_k[index_j] + s >= bx[k][j] (k >= 1)"),
        ("Cx", (L.N, _nz(L.ng * L.nx)), "general rows: Cx_k x_k + Cu_k u_k - s <= d_k (row-major)"),
        ("Cu", (L.N, _nz(L.ng * L.nu)), ""),
        ("d", (L.N, _nz(L.ng)), ""),
        ("CN", (_nz(L.ngn * L.nx),), "terminal rows: CN x_N - s <= dN"),
        ("dN", (_nz(L.ngn),), ""),
        ("l1", (1,), "slack penalty l1 s + 1/2 l2 s^2 of every soft row"),
        ("l2", (1,), ""),
    )


def solution_fields(layout: QpLayout) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Fields of the QP iterate/solution struct."""
    L = layout
    return (
        ("x", (L.N + 1, L.nx), "states (x[0] = x0)"),
        ("u", (L.N, L.nu), "inputs"),
        ("pi", (L.N, L.nx), "multipliers of the dynamics"),
        ("t", (_nz(L.n_rows),), "inequality slacks, hard rows first"),
        ("lam", (_nz(L.n_rows),), "inequality multipliers"),
        ("s", (_nz(L.n_soft),), "soft-row relaxations"),
        ("nu", (_nz(L.n_soft),), "multipliers of s >= 0"),
    )


def work_fields(layout: QpLayout) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Fields of the solver's workspace struct (everything one solve needs besides data and iterate)."""
    L = layout
    m, ms = _nz(L.n_rows), _nz(L.n_soft)
    return (
        ("P", (L.N + 1, L.nx * (L.nx + 1) // 2), "Riccati cost-to-go Hessians, lower triangles"),
        ("p", (L.N + 1, L.nx), "Riccati cost-to-go gradients"),
        ("K", (L.N, L.nu * L.nx), "feedback gains du = K dx + k"),
        ("k", (L.N, L.nu), ""),
        ("Lr", (L.N, L.nu * (L.nu + 1) // 2), "Cholesky factor of R + B'PB, lower triangle (diagonal: reciprocals)"),
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
        ("w", (m,), "lam / t"), ("inv_t", (m,), "1 / t (barrier_weights: the iterate's reciprocals)"),
        ("gam", (m,), "row gradient coefficients"),
        ("dt", (m,), "row steps"),
        ("dlam", (m,), ""),
        ("rs", (ms,), "soft-row stationarity residuals"),
        ("rcs", (ms,), ""),
        ("inv_s", (ms,), "1 / s"), ("inv_den", (ms,), "1 / (l2 + lam/t + nu/s)"),
        ("e", (ms,), ""), ("ds", (ms,), ""), ("dnu", (ms,), ""),
        ("sigma", (1,), "centering of the last real-time predictor (reused while the plan is steady)"),
        ("mu", (1,), "average complementarity after take_step"), ("rp_max", (1,), "largest |rp| of rt_prepare"),
        # the best iterate so far (returned when a solve to convergence stalls or hits its cap)
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

    default_rt_floor: ClassVar[float] = 0.03  # the real-time warm start's floors: QpLayout.box_pairs
    default_rt_floor_slack: ClassVar[float] = 0.1
    default_rt_floor_soft: ClassVar[float] = 1e-2

    @property
    def tiny(self) -> float:
        """Floor of slacks and multipliers (keeps lam/t finite near degenerate solutions)."""
        return 1e-12 if self.is_float else 1e-30

    default_max_iter: ClassVar[int] = 30

    # Patterns for the templates -----------------------------------------------------------
    def rows_cols(self, which: str) -> tuple[list[int], list[int]]:
        p = self.layout.pattern(which)
        return [r for r, _ in p], [c for _, c in p]

    def entry(self, which: str, i: int, j: int) -> int | None:
        """Stored index of entry (i, j) of a pattern (symmetric ones by their lower entry), or None."""
        key = (max(i, j), min(i, j)) if which in ("Q", "R", "QN") else (i, j)
        return self.layout.index(which).get(key)

    def tri(self, i: int, j: int) -> int:
        return tri(i, j)

    def constant(self, which: str, n: int) -> float | None:
        """The value of stored entry n of A or B if it is a constant of the model, else None."""
        return self._constants[which].get(n) if which in ("A", "B") else None

    @functools.cached_property
    def _constants(self) -> dict[str, dict[int, float]]:
        return {w: self.layout.constants(w) for w in ("A", "B")}

    def tri_u(self, i: int, j: int) -> int:
        return tri(i, j)

    # Terms of the Riccati factorization (stage k; P is the stored lower triangle of P_{k+1}) -------
    def pb_terms(self, i: int, j: int) -> Terms:
        """(PB)[i][j] = sum over column j of B of P[i][l] * B[l][j]."""
        return [(tri(i, l), n) for l, n in self.layout.col_terms("B", j)]

    def pa_terms(self, i: int, j: int) -> Terms:
        """(PA)[i][j] = sum over column j of A of P[i][l] * A[l][j]."""
        return [(tri(i, l), n) for l, n in self.layout.col_terms("A", j)]

    def hessian_terms(self, i: int, j: int) -> list[str]:
        """The stage Hessian's entry (i, j), i >= j, of the state block as C terms (k < N):
        the Q pattern's entry and the barrier weight of a state box row on the diagonal."""
        terms = []
        n = self.entry("Q", i, j)
        if n is not None:
            terms.append(f"Qk[{n}]")
        if i == j:
            terms += [f"wx[{r}]" for r, (index, _) in enumerate(self.layout.x_rows) if index == i]
        return terms

    def terminal_terms(self, i: int, j: int) -> list[str]:
        """The terminal Hessian's entry (i, j), i >= j: Q_N's entry and the state rows' barrier."""
        terms = []
        n = self.entry("QN", i, j)
        if n is not None:
            terms.append(f"d->QN[{n}]")
        if i == j:
            terms += [f"wx[{r}]" for r, (index, _) in enumerate(self.layout.x_rows) if index == i]
        return terms

    def input_hessian_terms(self, a: int, b: int) -> list[str]:
        """The input block's entry (a, b), a >= b: R's entry and the input box rows' barrier."""
        terms = []
        n = self.entry("R", a, b)
        if n is not None:
            terms.append(f"Rk[{n}]")
        if a == b:
            terms += [f"wu[{r}]" for r, (index, _) in enumerate(self.layout.u_rows) if index == a]
        return terms

    def btpb_terms(self, a: int, b: int) -> Terms:
        """(B'PB)[a][b] = sum over column a of B of PB[l][b] * B[l][a]."""
        nu = self.layout.nu
        return [(l * nu + b, n) for l, n in self.layout.col_terms("B", a)]

    @property
    def sb_from_pb(self) -> bool:
        """Form B'PA as (PB)'A (nu * nnz(A) products) rather than B'(PA) (nx * nnz(B))."""
        L = self.layout
        return L.nu * L.nnz("A") <= L.nx * L.nnz("B")

    def sb_terms(self, a: int, j: int) -> tuple[str, Terms]:
        """(B'PA)[a][j] as (vector, terms): ((PB)'A) or (B'(PA)), whichever is cheaper."""
        L = self.layout
        if self.sb_from_pb:
            return "PB", [(l * L.nu + a, n) for l, n in L.col_terms("A", j)]
        return "PA", [(l * L.nx + j, n) for l, n in L.col_terms("B", a)]

    def apa_terms(self, i: int, j: int) -> Terms:
        """(A'PA)[i][j] = sum over column i of A of PA[l][j] * A[l][i]."""
        nx = self.layout.nx
        return [(l * nx + j, n) for l, n in self.layout.col_terms("A", i)]

    def sbk_terms(self, i: int, j: int) -> Terms:
        """(Sb'K)[i][j] = sum over inputs a of Sb[a][i] * K[a][j] (Sb as the vector)."""
        nx = self.layout.nx
        return [(a * nx + i, a * nx + j) for a in range(self.layout.nu)]

    # Tiles of the factorization (register-blocked, see .tiles) ----------------------------------
    def _matrix_factor(self, which: str, i: int, j: int) -> Factor | None:
        """Entry (i, j) of A or B as a factor: a load, a model constant, or None (structural zero)."""
        n = self.entry(which, i, j)
        if n is None:
            return None
        c = self.constant(which, n)
        return Factor(value=c) if c is not None else Factor(f"{which}[{n}]")

    def factor_tiles(self, product: str, general: bool) -> list[Tile]:
        """The tiles of one product of riccati_factor (``general``: the rows' Gx, Gs, Gu join the
        Hessians): "PB" = P B, "PA" = P A, "Lr" = Rt + B'PB, "Sb" = St + B'PA, "Pk" = Qt + A'PA + Sb'K."""
        L, lit = self.layout, self.literal
        nx, nu = range(L.nx), range(L.nu)
        load = Factor
        if product in ("PB", "PA"):
            m, width = product[1], L.nu if product == "PB" else L.nx
            return tile_product(nx, nu if m == "B" else nx, nx, lambda i, l: load(f"P[{tri(i, l)}]"),
                                lambda l, j: self._matrix_factor(m, l, j),
                                lambda i, j: f"{product}[{i * width + j}]", lambda i, j: [], lit)
        if product == "Lr":
            return tile_product(nu, nu, nx, lambda a, l: self._matrix_factor("B", l, a),
                                lambda l, b: load(f"PB[{l * L.nu + b}]"), lambda a, b: f"Lr[{tri(a, b)}]",
                                lambda a, b: self.input_hessian_terms(a, b) + ([f"Gu[{tri(a, b)}]"] if general else []),
                                lit, lower=True)
        if product == "Sb":
            def init(a: int, j: int) -> list[str]:
                n = self.entry("S", a, j)
                return ([f"Sk[{n}]"] if n is not None else []) + ([f"Gs[{a * L.nx + j}]"] if general else [])
            if self.sb_from_pb:
                return tile_product(nu, nx, nx, lambda a, l: load(f"PB[{l * L.nu + a}]"),
                                    lambda l, j: self._matrix_factor("A", l, j), lambda a, j: f"Sb[{a * L.nx + j}]",
                                    init, lit)
            return tile_product(nu, nx, nx, lambda a, l: self._matrix_factor("B", l, a),
                                lambda l, j: load(f"PA[{l * L.nx + j}]"), lambda a, j: f"Sb[{a * L.nx + j}]", init, lit)
        if product == "Pk":
            keys = [("A", l) for l in nx] + [("K", a) for a in nu]
            return tile_product(
                nx, nx, keys,
                lambda i, k: self._matrix_factor("A", k[1], i) if k[0] == "A" else load(f"Sb[{k[1] * L.nx + i}]"),
                lambda k, j: load(f"PA[{k[1] * L.nx + j}]" if k[0] == "A" else f"K[{k[1] * L.nx + j}]"),
                lambda i, j: f"Pk[{tri(i, j)}]",
                lambda i, j: self.hessian_terms(i, j) + ([f"Gx[{tri(i, j)}]"] if general else []), lit, lower=True)
        raise ValueError(f"no factorization product {product!r}")

    # Terms of the solves --------------------------------------------------------------------
    def p_times(self, i: int) -> Terms:
        """(P v)[i] = sum over j of v[j] * P[tri(i, j)] (P a stored lower triangle)."""
        return [(j, tri(i, j)) for j in range(self.layout.nx)]

    def k_times(self, a: int) -> Terms:
        """(K v)[a] = sum over j of v[j] * K[a][j]."""
        nx = self.layout.nx
        return [(j, a * nx + j) for j in range(nx)]

    def kt_times(self, i: int) -> Terms:
        """(K' v)[i] = sum over inputs a of v[a] * K[a][i]."""
        nx = self.layout.nx
        return [(a, a * nx + i) for a in range(self.layout.nu)]

    def q_times(self, which: str, i: int) -> Terms:
        """(M v)[i] for the symmetric stored M (Q, R or QN): [(j, stored index)]."""
        return self.layout.sym_row_terms(which, i)

    def s_col_terms(self, i: int) -> Terms:
        """(S' u)[i] = sum over the nonzeros of column i of S of u[a] * S[a][i]."""
        return self.layout.col_terms("S", i)

    def s_row_terms(self, a: int) -> Terms:
        """(S x)[a] = sum over the nonzeros of row a of S of x[j] * S[a][j]."""
        return self.layout.row_terms("S", a)

    # Structs ----------------------------------------------------------------------------------
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
        """Arrays on the stack in the deepest call: the Riccati sweep's dense P_{k+1}, P*A and
        P*B, S + B'PA and R + B'PB."""
        L = self.layout
        return (2 * L.nx * L.nx + 2 * L.nx * L.nu + L.nu * L.nu) * self.scalar_bytes

    @property
    def total_bytes(self) -> int:
        return self.data_bytes + self.solution_bytes + self.work_bytes
