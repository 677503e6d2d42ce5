"""The OCP's own functions of (x, u, p) and their Jacobians.

The least-squares outputs y, the path constraints h and the terminal constraints h_N
of a checked OCP, each as one CasADi function (x, u, p) -> (value, dvalue/dx,
dvalue/du). The controller's C evaluates exactly these (lowered by
:mod:`mpcgen.codegen.mpc_program`); verification compares the compiled C with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca

from ..problem.ocp import CheckedOcp

#: Names of the outputs of every OCP function, in order.
OUTPUTS = ("value", "Jx", "Ju")


@dataclass(frozen=True)
class OcpFunction:
    """One OCP function with its Jacobians: ``name`` is "y", "h" or "hN"."""

    name: str
    rows: int
    function: ca.Function     # (x, u, p) -> (value, Jx, Ju); hN does not depend on u


def ocp_functions(ocp: CheckedOcp) -> tuple[OcpFunction, ...]:
    """y, h and h_N with their Jacobians, only those the OCP has, in that order."""
    m = ocp.model
    out = []
    for name, expr in (("y", ocp.y), ("h", ocp.h), ("hN", ocp.h_terminal)):
        if expr.numel() == 0:
            continue
        outputs = [expr, ca.jacobian(expr, m.x), ca.jacobian(expr, m.u)]
        fn = ca.Function(f"{name}_and_jacobians", [m.x, m.u, m.p], outputs, ["x", "u", "p"], list(OUTPUTS),
                         {"cse": True})
        out.append(OcpFunction(name, expr.numel(), fn))
    return tuple(out)
