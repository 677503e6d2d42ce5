"""Discretize the model's ODE by explicit Runge-Kutta, as the generated C does.

``discrete_model`` is the CasADi function (x, u, p) -> x_next over one sample: the
reference every later stage is compared with (the OCP's terminal weight, IPOPT's
transcription, the verification of the compiled F).
"""

from __future__ import annotations

import casadi as ca

from ..problem.model import Model
from ..problem.options import CodegenOptions

#: Explicit Runge-Kutta tableaux (a, b, c): c is implied by a (row sums).
TABLEAUX: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "euler": (((),), (1.0,)),
    # explicit midpoint rule
    "rk2": (((), (0.5,)), (0.0, 1.0)),
    # classical fourth-order Runge-Kutta
    "rk4": (((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}


def rk_step(model: Model, x: ca.SX, h: float, method: str) -> ca.SX:
    """One explicit Runge-Kutta step of length ``h`` from ``x`` with the model's u and p."""
    a, b = TABLEAUX[method]
    f = ca.Function("ode", [model.x, model.u, model.p], [model.ode])
    k: list[ca.SX] = []
    for row in a:
        stage = x
        for aij, kj in zip(row, k):
            if aij != 0.0:
                stage = stage + (h * aij) * kj
        k.append(f(stage, model.u, model.p))
    out = x
    for bi, ki in zip(b, k):
        if bi != 0.0:
            out = out + (h * bi) * ki
    return out


def discretize(model: Model, options: CodegenOptions, substeps: int | None = None) -> ca.SX:
    """x_next after ``substeps`` integrator steps of length ts/M (default: all M)."""
    m = options.substeps if substeps is None else substeps
    h = options.ts / options.substeps
    x = model.x
    for _ in range(m):
        x = rk_step(model, x, h, options.integrator)
    return x


def discrete_model(model: Model, options: CodegenOptions) -> ca.Function:
    """(x, u, p) -> x_next over one sample, as the generated C computes it."""
    return ca.Function("F", [model.x, model.u, model.p], [discretize(model, options)], ["x", "u", "p"], ["x_next"])
