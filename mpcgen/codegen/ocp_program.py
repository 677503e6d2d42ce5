"""The C program of the OCP's own functions: y, h and h_N with their Jacobians.

They get a file pair of their own, ``PREFIX_ocp.h``/``PREFIX_ocp.c``, of public
functions with a status: the controller calls them to linearize its cost and
constraints, and verification calls the very same compiled functions. The complex-step
twin ``PREFIX_ocp_cs.h``/``.c`` holds their values only (in ``double _Complex``), as
``PREFIX_cs.c`` holds F's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..derivatives.ocp_functions import OcpFunction, ocp_functions
from ..problem.model import Model
from ..problem.ocp import CheckedOcp
from ..version import __version__
from .lower import SCALARS, Lowered, Scalar, lower
from .model_program import COMPLEX_SUFFIX


@dataclass(frozen=True)
class OcpSignature:
    """Name, size and outputs of one OCP function: all the binding needs."""

    name: str                    # "y", "h" or "hN"
    rows: int
    inputs: tuple[str, ...]      # ("x", "u", "p") or ("x", "p")
    outputs: tuple[str, ...]     # ("value", "Jx", "Ju"), ("value", "Jx") or ("value",)
    meaning: str

    def size(self, output: str, nx: int, nu: int) -> int:
        """Entries of an output array: value rows, Jx rows x nx, Ju rows x nu (row-major)."""
        return self.rows * {"value": 1, "Jx": nx, "Ju": nu}[output]


@dataclass(frozen=True)
class OcpInterface:
    """The C API of an OCP file pair (stored in the manifest)."""

    prefix: str          # of the functions and files: PREFIX_ocp (shipped) or PREFIX_ocp_cs (complex)
    model_prefix: str    # whose header gives the scalar type and the status codes
    c_type: str
    nx: int
    nu: int
    np: int
    functions: tuple[OcpSignature, ...]

    @property
    def files(self) -> tuple[str, str]:
        return (f"{self.prefix}.h", f"{self.prefix}.c")

    def to_json(self) -> dict:
        return {"prefix": self.prefix, "model_prefix": self.model_prefix, "c_type": self.c_type, "nx": self.nx,
                "nu": self.nu, "np": self.np,
                "functions": [{"name": f.name, "rows": f.rows, "inputs": list(f.inputs), "outputs": list(f.outputs),
                               "meaning": f.meaning} for f in self.functions]}

    @staticmethod
    def from_json(data: dict) -> "OcpInterface":
        functions = tuple(OcpSignature(f["name"], f["rows"], tuple(f["inputs"]), tuple(f["outputs"]), f["meaning"])
                          for f in data["functions"])
        return OcpInterface(data["prefix"], data["model_prefix"], data["c_type"], data["nx"], data["nu"],
                            data["np"], functions)


@dataclass(frozen=True)
class OcpCFunction:
    """One lowered OCP function."""

    signature: OcpSignature
    block: Lowered

    @property
    def name(self) -> str:
        return self.signature.name


@dataclass(frozen=True)
class OcpProgram:
    """Everything the templates ``ocp.h.j2``/``ocp.c.j2`` need for one scalar type."""

    prefix: str
    model_prefix: str
    scalar: Scalar
    model: Model
    options_line: str
    source: str
    version: str
    functions: tuple[OcpCFunction, ...]

    @property
    def interface(self) -> OcpInterface:
        m = self.model
        return OcpInterface(self.prefix, self.model_prefix, self.scalar.c_type, m.nx, m.nu, m.np,
                            tuple(f.signature for f in self.functions))

    @property
    def helpers(self) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(f.block.helpers for f in self.functions))))

    def rows(self, name: str) -> int:
        return next((f.signature.rows for f in self.functions if f.name == name), 0)


def _lowered(f: OcpFunction, scalar: Scalar) -> OcpCFunction:
    values_only = scalar.is_complex  # complex step needs the values alone
    fn = f.value if values_only else f.function
    outputs = ("value",) if values_only else f.outputs
    signature = OcpSignature(f.name, f.rows, f.inputs, outputs, f.meaning)
    return OcpCFunction(signature, lower(fn, scalar, f"OCP expression {f.name}"))


def build_ocp_program(ocp: CheckedOcp, scalar_name: str, source: str, options_line: str) -> OcpProgram | None:
    """The OCP functions' program in one scalar type ("complex": the twin), or None if the
    OCP has no y, h or h_N."""
    functions = ocp_functions(ocp)
    if not functions:
        return None
    scalar = SCALARS[scalar_name]
    model_prefix = ocp.model.name + (COMPLEX_SUFFIX if scalar.is_complex else "")
    prefix = f"{ocp.model.name}_ocp" + (COMPLEX_SUFFIX if scalar.is_complex else "")
    return OcpProgram(prefix, model_prefix, scalar, ocp.model, options_line, source, __version__,
                      tuple(_lowered(f, scalar) for f in functions))
