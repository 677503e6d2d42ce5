"""Stage 2: discretize the ODE with explicit Runge-Kutta and differentiate it with CasADi.

The result is a :class:`Derivatives` value holding SX expressions of one *block*:
either the whole sample (all substeps unrolled) or one substep that the C code
repeats ``repeats`` times (looped form). For the block, with inputs (x, u, p):

    x_next = Phi(x, u, p),  A = dPhi/dx,  B = dPhi/du,  P = dPhi/dp.

The Jacobians keep CasADi's structural sparsity: the lowering emits only the
structural nonzeros and writes the known zeros as constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca

from .model import Model
from .options import CodegenOptions

#: Explicit Runge-Kutta tableaux (a, b, c): c is implied by a (row sums).
_TABLEAUX: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "euler": (((),), (1.0,)),
    # explicit midpoint rule
    "rk2": (((), (0.5,)), (0.0, 1.0)),
    # classical fourth-order Runge-Kutta
    "rk4": (((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}

#: Names of the block's outputs, in a fixed order.
QUANTITIES = ("x_next", "A", "B", "P")


@dataclass(frozen=True)
class Derivatives:
    """The discrete model's straight-line block and its Jacobians (SX expressions)."""

    model: Model
    options: CodegenOptions
    h: float          # integration length of one block
    repeats: int      # how many times the C code applies the block per sample
    x_next: ca.SX     # nx x 1
    A: ca.SX          # nx x nx, structurally sparse
    B: ca.SX          # nx x nu
    P: ca.SX          # nx x np

    def block_function(self, name: str, outputs: tuple[str, ...]) -> ca.Function:
        """A CasADi SX function (x, u, p) -> the requested quantities of the block."""
        m = self.model
        exprs = [getattr(self, q) for q in outputs]
        # cse merges structurally equal subexpressions that CasADi's graph keeps apart
        # (the same sin(theta) in two Runge-Kutta stages, repeated parameter products).
        return ca.Function(name, [m.x, m.u, m.p], exprs, ["x", "u", "p"], list(outputs), {"cse": True})


def rk_step(model: Model, x: ca.SX, h: float, method: str) -> ca.SX:
    """One explicit Runge-Kutta step of length ``h`` from ``x`` with the model's u and p."""
    a, b = _TABLEAUX[method]
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


def derive(model: Model, options: CodegenOptions) -> Derivatives:
    """Discretize and differentiate: the block the C code evaluates, with its Jacobians."""
    repeats = options.substeps if options.looped else 1
    per_block = 1 if options.looped else options.substeps
    x_next = discretize(model, options, per_block)
    return Derivatives(
        model=model,
        options=options,
        h=options.ts / options.substeps * per_block,
        repeats=repeats,
        x_next=x_next,
        A=ca.jacobian(x_next, model.x),
        B=ca.jacobian(x_next, model.u),
        P=ca.jacobian(x_next, model.p),
    )


def reference_function(model: Model, options: CodegenOptions) -> ca.Function:
    """CasADi's own numeric evaluation of the full sample: (x, u, p) -> (x_next, A, B, P).

    Built independently of the block structure (always fully unrolled), so that it
    also checks the C code's looped Jacobian propagation.
    """
    x_next = discretize(model, options)
    return ca.Function(
        f"{model.name}_reference",
        [model.x, model.u, model.p],
        [x_next, ca.jacobian(x_next, model.x), ca.jacobian(x_next, model.u), ca.jacobian(x_next, model.p)],
        ["x", "u", "p"],
        list(QUANTITIES),
    )
