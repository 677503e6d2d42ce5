"""Assemble the C program of a model from its derivatives.

Decides *what* is emitted: the public functions, the straight-line block each one
runs, whether the block is looped over substeps, and the sizes the header reports.
The templates decide how it looks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..derivatives.jacobians import Derivatives
from ..problem.model import Model, Var
from ..version import __version__
from .lower import SCALARS, Lowered, Scalar, lower


@dataclass(frozen=True)
class PublicFunction:
    """A generated API function: ``int PREFIX_name(x, u, p, outputs...)``."""

    name: str                    # suffix after the prefix, e.g. "F_and_jacobians"
    summary: str                 # one line for the header
    outputs: tuple[str, ...]     # quantities returned to the caller, in argument order
    block: Lowered               # straight-line code of one block (one substep when looped)

    @property
    def writes_zeros(self) -> bool:
        """Whether structural zeros of the Jacobians are written on every call.

        The fused hot path writes only structural nonzeros (on the chain of 8 masses the
        1446 zero stores of A cost 10 % of the evaluation): its callers keep zeros at
        the structural-zero positions, which never change. The other functions write
        every entry.
        """
        return self.name != "F_and_jacobians"

    @property
    def checked_outputs(self) -> tuple[str, ...]:
        """Outputs checked for NaN/Inf before returning.

        The fused hot path checks x_next only (re-reading every Jacobian entry costs
        as much as 20 % of the evaluation on the chain of masses, and the MPC's QP
        checks all of its data anyway); the other functions check all their outputs.
        """
        return ("x_next",) if self.name == "F_and_jacobians" else self.outputs


@dataclass(frozen=True)
class Signature:
    """Name and returned quantities of one public function."""

    name: str
    summary: str
    outputs: tuple[str, ...]


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
            "functions": [{"name": f.name, "summary": f.summary, "outputs": list(f.outputs)} for f in self.functions],
        }

    @staticmethod
    def from_json(data: dict) -> "Interface":
        functions = tuple(Signature(f["name"], f["summary"], tuple(f["outputs"])) for f in data["functions"])
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
        sigs = tuple(Signature(f.name, f.summary, f.outputs) for f in self.functions)
        return Interface(self.prefix, self.scalar.c_type, m.nx, m.nu, m.np, sigs)

    @property
    def helpers(self) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(f.block.helpers for f in self.functions))))

    def cols(self, quantity: str) -> int:
        """Columns of a returned quantity (x_next is a column: 1)."""
        m = self.model
        return {"x_next": 1, "A": m.nx, "B": m.nu, "P": m.np}[quantity]

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


def build_program(d: Derivatives, scalar_name: str, source: str, prefix: str | None = None,
                  only: tuple[str, ...] | None = None) -> Program:
    """The C program for ``d`` in one scalar type; ``only`` restricts the public functions."""
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
