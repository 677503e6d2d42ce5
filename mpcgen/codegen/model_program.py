"""Assemble the C program of a model from its derivatives.

Decides *what* is emitted: the public functions, the straight-line block each one
runs, whether the block is looped over substeps, and the sizes the header reports.
The templates decide how it looks.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca

from ..derivatives.jacobians import Derivatives
from ..problem.model import Model, Var
from ..version import __version__
from .lower import SCALARS, Lowered, Scalar, lower, packed_positions


@dataclass(frozen=True)
class PublicFunction:
    """A generated API function: ``int PREFIX_name(x, u, p, outputs...)``."""

    name: str                    # suffix after the prefix, e.g. "F_and_jacobians"
    summary: str                 # one line for the header
    outputs: tuple[str, ...]     # quantities returned to the caller, in argument order
    block: Lowered               # straight-line code of one block (one substep when looped)
    #: packed outputs (A_nz, B_nz): the dense row-major index of each stored entry
    packed: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def writes_zeros(self) -> bool:
        """Whether structural zeros of the Jacobians are written on every call.

        The fused hot path writes only structural nonzeros (on the chain of 8 masses the
        1446 zero stores of A cost 10 % of the evaluation): its callers keep zeros at
        the structural-zero positions, which never change. The other functions write
        every entry.
        """
        return not self.name.startswith("F_and_jacobians")

    @property
    def checked_outputs(self) -> tuple[str, ...]:
        """Outputs checked for NaN/Inf before returning.

        The fused hot paths check x_next only (re-reading every Jacobian entry costs
        as much as 20 % of the evaluation on the chain of masses, and the MPC's QP
        checks what they feed it anyway); the other functions check all their outputs.
        """
        return ("x_next",) if self.name.startswith("F_and_jacobians") else self.outputs


@dataclass(frozen=True)
class Signature:
    """Name and returned quantities of one public function.

    ``packed``: for an output that holds structural nonzeros only (A_nz, B_nz), the dense
    row-major index of each of its entries."""

    name: str
    summary: str
    outputs: tuple[str, ...]
    packed: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def packed_positions(self, output: str) -> tuple[int, ...] | None:
        return dict(self.packed).get(output)


@dataclass(frozen=True)
class Interface:
    """The C API of a generated file pair: all the cffi binding needs to know.

    Stored in the generated folder's manifest, so a folder can be built and bound
    without re-deriving the model.
    """

    prefix: str
    c_type: str
    nx: int
    nu: int
    np: int
    functions: tuple[Signature, ...]

    def to_json(self) -> dict:
        return {
            "prefix": self.prefix, "c_type": self.c_type, "nx": self.nx, "nu": self.nu, "np": self.np,
            "functions": [{"name": f.name, "summary": f.summary, "outputs": list(f.outputs),
                           **({"packed": {q: list(pos) for q, pos in f.packed}} if f.packed else {})}
                          for f in self.functions],
        }

    @staticmethod
    def from_json(data: dict) -> "Interface":
        functions = tuple(Signature(f["name"], f["summary"], tuple(f["outputs"]),
                                    tuple((q, tuple(pos)) for q, pos in sorted(f.get("packed", {}).items())))
                          for f in data["functions"])
        return Interface(data["prefix"], data["c_type"], data["nx"], data["nu"], data["np"], functions)


@dataclass(frozen=True)
class Program:
    """Everything the templates need to render one model in one scalar type."""

    prefix: str
    scalar: Scalar
    model: Model
    options_line: str
    integrator: str
    derivative_method: str
    version: str
    source: str                  # where the model came from (example name or file:function)
    repeats: int                 # block applications per sample (1 = unrolled)
    functions: tuple[PublicFunction, ...]

    @property
    def interface(self) -> Interface:
        m = self.model
        sigs = tuple(Signature(f.name, f.summary, f.outputs, f.packed) for f in self.functions)
        return Interface(self.prefix, self.scalar.c_type, m.nx, m.nu, m.np, sigs)

    @property
    def helpers(self) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(f.block.helpers for f in self.functions))))

    def cols(self, quantity: str) -> int:
        """Columns of a returned quantity (x_next is a column: 1)."""
        m = self.model
        return {"x_next": 1, "A": m.nx, "B": m.nu, "P": m.np}[quantity]

    @property
    def packed_outputs(self) -> tuple[str, ...]:
        return tuple(q for f in self.functions for q, _ in f.packed)

    def packed_rows_cols(self, quantity: str) -> tuple[list[int], list[int]]:
        cols = self.model.nx if quantity == "A_nz" else self.model.nu
        positions = self.packed(quantity)
        return [i // cols for i in positions], [i % cols for i in positions]

    def packed(self, quantity: str) -> tuple[int, ...]:
        """Dense row-major index of each entry of a packed output (A_nz, B_nz)."""
        return next(dict(f.packed)[quantity] for f in self.functions if quantity in dict(f.packed))

    @property
    def looped(self) -> bool:
        return self.repeats > 1

    @property
    def stack_bytes(self) -> int:
        """Upper bound of the arrays the looped form keeps on the stack."""
        if not self.looped:
            return 0
        m = self.model
        n = m.nx * (1 + 2 * m.nx + 2 * max(m.nu, m.np))
        return n * _sizeof(self.scalar)

    @property
    def groups(self) -> tuple[tuple[str, str, tuple[Var, ...]], ...]:
        m = self.model
        return (("x", "state", m.states), ("u", "input", m.inputs), ("p", "parameter", m.parameters))


#: Prefix suffix of the complex-step twin of a model's C (``pendulum_cs.c``): verification only.
COMPLEX_SUFFIX = "_cs"


def _sizeof(scalar: Scalar) -> int:
    return {"double": 8, "float": 4, "complex": 16}[scalar.name]


#: (name, summary, outputs to the caller, outputs the block computes)
_API = (
    ("F", "discrete dynamics x_next = F(x, u, p) over one sample", ("x_next",), ("x_next",)),
    ("dF_dx", "state Jacobian A = dF/dx", ("A",), ("x_next", "A")),
    ("dF_du", "input Jacobian B = dF/du", ("B",), ("x_next", "A", "B")),
    ("dF_dp", "parameter Jacobian P = dF/dp", ("P",), ("x_next", "A", "P")),
    ("F_and_jacobians", "x_next, A and B together, sharing common subexpressions. The fast path: "
     "writes only the structural nonzeros of A and B (pass arrays that hold zeros elsewhere: "
     "zero them once, static storage already is) and checks its inputs and x_next",
     ("x_next", "A", "B"), ("x_next", "A", "B")),
)


#: The fused function with packed Jacobians, for a controller's QP (unrolled form only).
_PACKED = ("F_and_jacobians_nz", "x_next and the structural nonzeros of A and B, row by row (see PREFIX_A_ROWS/COLS, "
           "PREFIX_B_ROWS/COLS): the controller's hot path, which keeps only these entries. Checks its inputs and x_next")


def build_program(d: Derivatives, scalar_name: str, source: str, prefix: str | None = None,
                  only: tuple[str, ...] | None = None, packed: bool = False) -> Program:
    """The C program for ``d`` in one scalar type; ``only`` restricts the public functions;
    ``packed`` adds F_and_jacobians_nz (unrolled form only: the looped form's products fill in)."""
    model = d.model
    scalar = SCALARS[scalar_name]
    functions = []
    for name, summary, outputs, block_outputs in _API:
        if only is not None and name not in only:
            continue
        if d.repeats == 1:
            block_outputs = outputs  # unrolled: compute exactly what is returned
        fn = d.block_function(f"{name}_block", block_outputs)
        functions.append(PublicFunction(name, summary, outputs, lower(fn, scalar, f"model {model.name!r}")))
    if packed and d.repeats == 1:
        m = model
        fn = ca.Function("F_and_jacobians_nz_block", [m.x, m.u, m.p], [d.x_next, d.A, d.B], ["x", "u", "p"],
                         ["x_next", "A_nz", "B_nz"], {"cse": True})
        positions = (("A_nz", tuple(packed_positions(d.A.sparsity()))),
                     ("B_nz", tuple(packed_positions(d.B.sparsity()))))
        functions.append(PublicFunction(_PACKED[0], _PACKED[1], ("x_next", "A_nz", "B_nz"),
                                        lower(fn, scalar, f"model {model.name!r}", packed=frozenset({"A_nz", "B_nz"})),
                                        positions))
    return Program(
        prefix=prefix or model.name,
        scalar=scalar,
        model=model,
        options_line=d.options.describe(),
        integrator=d.options.integrator,
        derivative_method=d.method,
        version=__version__,
        source=source,
        repeats=d.repeats,
        functions=tuple(functions),
    )
