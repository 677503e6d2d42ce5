"""The C program of the extended Kalman filter: ``PREFIX_ekf.h``/``PREFIX_ekf.c``.

What is emitted for a model with outputs and a measurement noise:

- the measurement function h(x, u, p) with its Jacobians, a checked public function
  ``PREFIX_ekf_h`` (what ``mpcgen verify`` checks, like the OCP's functions) whose
  straight-line body the update inlines;
- the filter itself, in static memory: ``predict(u, p)`` through the model's fused
  ``PREFIX_F_and_jacobians`` and ``update(y, u, p)`` by sequential scalar updates, each
  in Joseph form and gated by its normalized innovation against a chi-square threshold.
  A correlated measurement noise R = L Lᵀ is whitened first: y, h and H are multiplied
  by the constant W = L⁻¹ (lower triangular), which makes the noise independent with
  unit variance.

The complex-step twin ``PREFIX_ekf_cs.h``/``.c`` holds h's value only, for
verification, as ``PREFIX_cs.c`` holds F's. Constants (Q, the measurement variances,
the default initial covariance and gate) are rendered as literals of the scalar type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from statistics import NormalDist

import casadi as ca
import numpy as np

from ..derivatives.measurement_functions import MEANING, measurement_function
from ..problem.model import Model
from ..version import __version__
from .lower import SCALARS, Scalar, lower
from .model_program import COMPLEX_SUFFIX
from .mpc_program import constant_entries, structural_nonzeros
from .ocp_program import OcpCFunction, OcpInterface, OcpSignature
from .tiles import Factor, Tile, tile_product

#: Default gate: a scalar innovation whose normalized square exceeds the chi-square
#: quantile (1 degree of freedom) of this probability is rejected.
GATE_PROBABILITY = 0.9999


def chi_square_1(probability: float) -> float:
    """The chi-square quantile with one degree of freedom: the squared normal quantile."""
    return NormalDist().inv_cdf(0.5 + probability / 2) ** 2


@dataclass(frozen=True)
class EkfProgram:
    """Everything the templates ``ekf.h.j2``/``ekf.c.j2`` need for one scalar type."""

    prefix: str            # of the functions and files: PREFIX_ekf (or PREFIX_ekf_cs, the complex twin)
    model_prefix: str      # whose header gives the scalar type, the sizes and F_and_jacobians
    scalar: Scalar
    model: Model
    options_line: str
    source: str
    version: str
    h: OcpCFunction
    Q: tuple[tuple[str, ...], ...]     # process covariance literals, nx x nx
    r: tuple[str, ...]                 # measurement variances, ny
    P0: tuple[str, ...]                # default initial variances (diagonal), nx
    gate: str                          # default gate threshold literal
    gate_value: float
    #: correlated measurement noise: the rows of W = L^-1 (R = L L^T), literals, lower
    #: triangle (row i holds i + 1 entries); empty when R is diagonal
    whitening: tuple[tuple[str, ...], ...] = ()
    #: structural nonzeros of H = dh/dx (whitened, if so), row by row (CSR: each row's first
    #: index into the columns, then the columns)
    h_start: tuple[int, ...] = ()
    h_cols: tuple[int, ...] = ()
    #: structural nonzeros (row, col) of A = dF/dx and the constant ones' values; None:
    #: dense (the looped substep form, whose product of Jacobians can fill in)
    a_pattern: tuple[tuple[int, int], ...] | None = None
    a_constants: tuple[tuple[tuple[int, int], float], ...] = ()

    def _a_factor(self, i: int, k: int) -> Factor | None:
        """Entry (i, k) of A as a factor: a load, a model constant, or None (structural zero)."""
        if self.a_pattern is not None and (i, k) not in self._a_set:
            return None
        c = self._a_values.get((i, k))
        return Factor(value=c) if c is not None else Factor(f"ekf.A[{i * self.model.nx + k}]")

    @functools.cached_property
    def _a_set(self) -> frozenset:
        return frozenset(self.a_pattern or ())

    @functools.cached_property
    def _a_values(self) -> dict:
        return dict(self.a_constants)

    def predict_tiles(self, product: str) -> list[Tile]:
        """The unrolled tiles of predict's products over A's structural nonzeros (constants as
        literals): "AP" = A P, "APA" = the lower triangle of (A P) Aᵀ + Q into Pw."""
        nx, lit = range(self.model.nx), self.scalar.literal
        n = self.model.nx
        if product == "AP":
            return tile_product(nx, nx, nx, self._a_factor, lambda k, j: Factor(f"ekf.P[{k * n + j}]"),
                                lambda i, j: f"ekf.AP[{i * n + j}]", lambda i, j: [], lit)
        if product == "APA":
            zero = lit(0.0)
            return tile_product(nx, nx, nx, lambda i, k: Factor(f"ekf.AP[{i * n + k}]"), lambda k, j: self._a_factor(j, k),
                                lambda i, j: f"ekf.Pw[{i * n + j}]",
                                lambda i, j: [self.Q[i][j]] if self.Q[i][j] != zero else [], lit, lower=True)
        raise ValueError(f"no predict product {product!r}")

    @property
    def interface(self) -> OcpInterface:
        m = self.model
        return OcpInterface(self.prefix, self.model_prefix, self.scalar.c_type, m.nx, m.nu, m.np, (self.h.signature,))

    @property
    def Q_diagonal(self) -> bool:
        return all(q in ("0.0", "0.0f") for i, row in enumerate(self.Q) for j, q in enumerate(row) if i != j)

    @property
    def gate_probability(self) -> float:
        return GATE_PROBABILITY

    @property
    def helpers(self) -> tuple[str, ...]:
        return tuple(sorted(self.h.block.helpers))

    @property
    def real_bytes(self) -> int:
        return 8 if self.scalar.name == "double" else 4

    @property
    def memory_bytes(self) -> int:
        """Static memory of the filter: its state, covariance, work arrays and statistics."""
        m = self.model
        nx, nu, ny = m.nx, m.nu, m.ny
        reals = (nx + nx * nx            # x, P
                 + nx + nx * nx + nx * nu + 2 * nx * nx   # x_next, A, B, A P, the new P
                 + ny + ny * nx + ny * nu + 3 * nx        # h, H, Ju, dx, P h_i, K
                 + (ny if self.whitening else 0)          # the whitened y
                 + 1 + ny)                                # gate, nis
        ints = ny + 1                                      # accepted, initialized
        size = reals * self.real_bytes + ints * 4
        return -(-size // self.real_bytes) * self.real_bytes

    def to_json(self) -> dict:
        return {**self.interface.to_json(), "ny": self.model.ny, "gate": self.gate_value,
                "whitened": bool(self.whitening),
                "memory_bytes": self.memory_bytes, "outputs": [o.name for o in self.model.outputs]}


def _csr(pattern: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    starts, cols = [0], []
    for row in pattern:
        cols += [int(j) for j in np.flatnonzero(row)]
        starts.append(len(cols))
    return tuple(starts), tuple(cols)


def build_ekf_program(model: Model, scalar_name: str, source: str, options_line: str,
                      A: ca.SX | None = None) -> EkfProgram | None:
    """The EKF's program in one scalar type ("complex": the twin with h's value only), or None
    when the model declares no outputs or no measurement noise. ``A``: the symbolic dF/dx
    whose structural nonzeros and constants predict's products are unrolled over (None: dense)."""
    f = measurement_function(model)
    if f is None or model.measurement_noise is None:
        return None
    R = np.array(model.measurement_noise)
    correlated = bool(np.any(R != np.diag(np.diag(R))))
    scalar = SCALARS[scalar_name]
    values_only = scalar.is_complex
    fn = f.value if values_only else f.function
    signature = OcpSignature(f.name, f.rows, f.inputs, ("value",) if values_only else f.outputs, MEANING)
    h = OcpCFunction(signature, lower(fn, scalar, f"model {model.name!r}: measurement model h"))
    Q = np.array(model.process_noise) if model.process_noise is not None else np.zeros((model.nx, model.nx))
    lit = scalar.literal if not values_only else SCALARS["double"].literal
    P0 = [((v.hi - v.lo) / 6) ** 2 for v in model.states]
    gate = chi_square_1(GATE_PROBABILITY)
    model_prefix = model.name + (COMPLEX_SUFFIX if values_only else "")
    prefix = f"{model.name}_ekf" + (COMPLEX_SUFFIX if values_only else "")
    variances = np.ones(model.ny) if correlated else np.diag(R)
    W = np.linalg.inv(np.linalg.cholesky(R)) if correlated else None
    whitening = tuple(tuple(lit(float(W[i, j])) for j in range(i + 1)) for i in range(model.ny)) if correlated else ()
    H = np.array(ca.DM(ca.jacobian(model.y, model.x).sparsity(), 1)) != 0
    if correlated:   # whitened row i combines rows 0..i
        H = np.logical_or.accumulate(H, axis=0)
    h_start, h_cols = _csr(H)
    return EkfProgram(prefix, model_prefix, scalar, model, options_line, source, __version__, h,
                      tuple(tuple(lit(float(q)) for q in row) for row in Q), tuple(lit(float(r)) for r in variances),
                      tuple(lit(p) for p in P0), lit(gate), gate, whitening, h_start, h_cols,
                      structural_nonzeros(A) if A is not None else None, constant_entries(A) if A is not None else ())
