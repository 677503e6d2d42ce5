"""The OCP's own functions of (x, u, p) and their Jacobians.

The least-squares outputs y(x, u, p), the path constraints h(x, u, p) and the terminal
constraints h_N(x, p) of a checked OCP, each as one CasADi function from its inputs to
its value and the value's Jacobian with respect to each of the inputs x and u. The
generated C evaluates exactly these (lowered by :mod:`mpcgen.codegen.ocp_program`);
verification compares the compiled C with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca

from ..problem.ocp import CheckedOcp

#: What each function is, for headers and reports.
MEANING = {"y": "least-squares outputs y(x, u, p)", "h": "path constraints h(x, u, p) <= 0",
           "hN": "terminal constraints h_N(x, p) <= 0"}


@dataclass(frozen=True)
class OcpFunction:
    """One OCP function with its Jacobians.

    ``name`` is "y", "h" or "hN"; ``inputs`` are ("x", "u", "p"), or ("x", "p") for the
    terminal constraints; ``outputs`` are "value" and one Jacobian per differentiated
    input ("Jx", and "Ju" where u is an input).
    """

    name: str
    rows: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    function: ca.Function     # inputs -> outputs
    value: ca.Function        # inputs -> value alone (what complex-step differentiates)

    @property
    def meaning(self) -> str:
        return MEANING[self.name]


def ocp_functions(ocp: CheckedOcp) -> tuple[OcpFunction, ...]:
    """y, h and h_N with their Jacobians, only those the OCP has, in that order."""
    m = ocp.model
    symbols = {"x": m.x, "u": m.u, "p": m.p}
    out = []
    for name, expr, inputs in (("y", ocp.y, ("x", "u", "p")), ("h", ocp.h, ("x", "u", "p")),
                               ("hN", ocp.h_terminal, ("x", "p"))):
        if expr.numel() == 0:
            continue
        differentiated = [i for i in inputs if i != "p"]
        outputs = ("value", *(f"J{i}" for i in differentiated))
        exprs = [expr, *(ca.jacobian(expr, symbols[i]) for i in differentiated)]
        args = [symbols[i] for i in inputs]
        fn = ca.Function(f"{name}_and_jacobians", args, exprs, list(inputs), list(outputs), {"cse": True})
        value = ca.Function(f"{name}_value", args, [expr], list(inputs), ["value"], {"cse": True})
        out.append(OcpFunction(name, expr.numel(), inputs, outputs, fn, value))
    return tuple(out)
