"""The Jacobians of the discretized model, in the form the C evaluates.

The result is a :class:`Derivatives` value holding SX expressions of one *block*:
either the whole sample (all substeps unrolled) or one substep that the C code
repeats ``repeats`` times (looped form). For the block, with inputs (x, u, p):

    x_next = Phi(x, u, p),  A = dPhi/dx,  B = dPhi/du,  P = dPhi/dp.

The Jacobians keep CasADi's structural sparsity: the lowering emits only the
structural nonzeros and writes the known zeros as constants.

Several formulations of the Jacobians are built and the one whose fused (x_next, A, B)
needs the fewest operations is kept (the choice is deterministic and named in the
generated header):

jacobian     CasADi's ``jacobian`` of the unrolled step (symbolic AD of the whole graph).
stagewise    forward sensitivities through the Runge-Kutta stages and substeps with the
             sparse ODE Jacobians: for stage i, s_i = x + h sum_j a_ij k_j,
             ds_i/dz = S + h sum_j a_ij dk_j/dz, k_i = f(s_i),
             dk_i/dz = f_x(s_i) ds_i/dz + [0, f_u(s_i), f_p(s_i)], and after the stages
             x+ = x + h sum_i b_i k_i, S+ = S + h sum_i b_i dk_i/dz. It reuses f_x at
             each stage instead of differentiating through the stage arithmetic, and is
             20-25 % cheaper on the small examples.
elimination  the same sensitivities, with the product f_z(s_i) [ds_i/dz; 0 I] formed on
             the ODE's graph after vertex elimination (:mod:`.elimination`): the
             explicit Jacobian in the first stages, where ds_i/dz is still sparse, and
             the reduced graph from a stage on (which one: the fewest operations). On
             the chain of masses 10-15 % fewer operations than either of the above.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca

from ..problem.model import Model
from ..problem.options import CodegenOptions
from .discretize import TABLEAUX, discretize
from .elimination import jacobian_times

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
    method: str = "jacobian"   # which formulation of the Jacobians was kept

    def block_function(self, name: str, outputs: tuple[str, ...]) -> ca.Function:
        """A CasADi SX function (x, u, p) -> the requested quantities of the block."""
        m = self.model
        exprs = [getattr(self, q) for q in outputs]
        # cse merges structurally equal subexpressions that CasADi's graph keeps apart
        # (the same sin(theta) in two Runge-Kutta stages, repeated parameter products).
        return ca.Function(name, [m.x, m.u, m.p], exprs, ["x", "u", "p"], list(outputs), {"cse": True})


def stagewise_sensitivities(model: Model, options: CodegenOptions, substeps: int,
                            products: tuple[ca.Function, ...] | None = None) -> tuple[ca.SX, ...]:
    """x_next, A, B, P by the chain rule through the RK stages of ``substeps`` substeps.

    ``products[i]``: (x, u, p, V) -> (f, f_z V), z = (x, u, p), for stage i of every
    substep (:func:`~mpcgen.derivatives.elimination.jacobian_times`); default: CasADi's
    explicit sparse ODE Jacobians times V at every stage.
    """
    a, b = TABLEAUX[options.integrator]
    h = options.ts / options.substeps
    m = model
    if products is None:
        products = (explicit_product(m),) * len(a)
    # the rows of V below the state's: d(u, p)/d(x0, u, p)
    nxup = m.nx + m.nu + m.np
    seeds = ca.SX(m.nu + m.np, nxup)
    for i in range(m.nu + m.np):
        seeds[i, m.nx + i] = 1
    # state and its sensitivities with respect to (x0, u, p)
    x, S = m.x, ca.horzcat(ca.SX.eye(m.nx), ca.SX(m.nx, m.nu + m.np))
    for _ in range(substeps):
        stages: list[tuple[ca.SX, ca.SX]] = []
        for row, product in zip(a, products):
            s, dS = x, S
            for aij, (k, dk) in zip(row, stages):
                if aij != 0.0:
                    s = s + (h * aij) * k
                    dS = dS + (h * aij) * dk
            k, dk = product(s, m.u, m.p, ca.vertcat(dS, seeds))
            # the call's dense result holds constant zeros: keep the structural sparsity
            stages.append((k, ca.sparsify(dk)))
        for bi, (k, dk) in zip(b, stages):
            if bi != 0.0:
                x = x + (h * bi) * k
                S = S + (h * bi) * dk
    return x, S[:, :m.nx], S[:, m.nx:m.nx + m.nu], S[:, m.nx + m.nu:]


def explicit_product(model: Model) -> ca.Function:
    """(x, u, p, V) -> (f, f_z V) with CasADi's explicit, structurally sparse Jacobian f_z."""
    m = model
    z = ca.vertcat(m.x, m.u, m.p)
    V = ca.SX.sym("V", z.numel(), z.numel())
    return ca.Function("ode_jacobian_times", [m.x, m.u, m.p, V], [m.ode, ca.mtimes(ca.jacobian(m.ode, z), V)])


def operation_count(outputs: list[ca.SX], inputs: list[ca.SX]) -> int:
    """Arithmetic operations of the fused (x_next, A, B) evaluation after CSE."""
    fn = ca.Function("count", inputs, outputs, {"cse": True})
    skip = (ca.OP_INPUT, ca.OP_OUTPUT, ca.OP_CONST)
    return sum(1 for k in range(fn.n_instructions()) if fn.instruction_id(k) not in skip)


def derive(model: Model, options: CodegenOptions) -> Derivatives:
    """Discretize and differentiate: the block the C code evaluates, with its Jacobians.

    Every formulation of the Jacobians is built; the one whose fused (x_next, A, B)
    needs the fewest operations is kept (ties go to the one listed first: CasADi's
    jacobian, then stagewise).
    """
    repeats = options.substeps if options.looped else 1
    per_block = 1 if options.looped else options.substeps
    inputs = [model.x, model.u, model.p]
    x_next = discretize(model, options, per_block)
    by_jacobian = (x_next, ca.jacobian(x_next, model.x), ca.jacobian(x_next, model.u), ca.jacobian(x_next, model.p))
    candidates = {"jacobian": by_jacobian, "stagewise": stagewise_sensitivities(model, options, per_block)}
    # vertex elimination: the explicit Jacobian up to some stage, the reduced graph from there
    explicit, reduced = jacobian_times(model, eliminate_all=True), jacobian_times(model)
    n_stages = len(TABLEAUX[options.integrator][0])
    for first in range(n_stages, -1, -1):
        products = (explicit,) * first + (reduced,) * (n_stages - first)
        candidates[f"elimination {first}"] = stagewise_sensitivities(model, options, per_block, products)
    cost = {name: operation_count(list(q[:3]), inputs) for name, q in candidates.items()}
    # fewest operations; ties go to the earlier (simpler) formulation
    order = list(candidates)
    chosen = min(candidates, key=lambda name: (cost[name], order.index(name)))
    method = chosen.split()[0]
    x_next, A, B, P = candidates[chosen]
    return Derivatives(
        model=model,
        options=options,
        h=options.ts / options.substeps * per_block,
        repeats=repeats,
        x_next=x_next,
        A=A,
        B=B,
        P=P,
        method=method,
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
