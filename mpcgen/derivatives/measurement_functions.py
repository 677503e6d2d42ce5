"""The measurement model's function h(x, u, p) and its Jacobians, for the EKF.

The same shape as the OCP's own functions (:mod:`.ocp_functions`): one CasADi
function from (x, u, p) to the value and its Jacobians with respect to x and u, and
the value alone (what complex-step differentiates). The generated EKF's update
evaluates exactly these (lowered by :mod:`mpcgen.codegen.ekf_program`), and
verification compares the compiled C with them.
"""

from __future__ import annotations

import casadi as ca

from ..problem.model import Model
from .ocp_functions import OcpFunction

#: What the function is, for headers and reports.
MEANING = "measurement model y = h(x, u, p)"


def measurement_function(model: Model) -> OcpFunction | None:
    """h with its Jacobians Jx (and Ju when the model has inputs); None without outputs."""
    if not model.ny:
        return None
    inputs = ("x", "u", "p")
    outputs = ("value", "Jx") + (("Ju",) if model.nu else ())
    exprs = [model.y, ca.jacobian(model.y, model.x)] + ([ca.jacobian(model.y, model.u)] if model.nu else [])
    args = [model.x, model.u, model.p]
    fn = ca.Function("h_and_jacobians", args, exprs, list(inputs), list(outputs), {"cse": True})
    value = ca.Function("h_value", args, [model.y], list(inputs), ["value"], {"cse": True})
    return OcpFunction("h", model.ny, inputs, outputs, fn, value)
