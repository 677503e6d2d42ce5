"""The worst-case instructions of one real-time step on the Cortex-M4F, known at generation.

A real-time step (``PREFIX_mpc_feedback`` + ``PREFIX_mpc_prepare``) does a fixed amount of
work by construction: one linearization of the model at the N stages, one more
evaluation of F (at the measured state: the check that the model holds there; the
shifted plan's new last state comes from the linearization), one Riccati
factorization (or, on a steady plan, the previous one shifted plus its last stage, and
the Jacobians it was built from with F alone at the other stages: less work), one
predictor and one corrector sweep and step over the fixed rows
(``rt_iterations`` = 1; each further iteration adds less than a whole step), every loop
over fixed sizes, no branch on the data but cheap ones (the step length's ratio test,
clamps), and no libm call whose path depends on its argument (float sin and cos are
mpcgen's fixed-work ones, see float_math.j2; sqrt and division are instructions).

So the step's instruction count is a sum over the work's parts, each a count known from
the sizes and the generated kernels (operations of the model's Jacobian program, its
sine-cosine pairs, loads, multiply-adds and stores of the factorization's tiles, rows)
times an instruction cost per unit. The costs were fitted (non-negative least squares)
to the worst measured step of 13 configurations (the examples: pendulum, quadrotor,
CSTR at several horizons, robot arm, chains of 3 and 4 masses; and the tests' crane with
a hard general row and with rate limits, whose general rows the examples lack;
arm-none-eabi-gcc 12.2 with the build files' ``-O3 -ffp-contract=fast -fno-math-errno``,
QEMU's instruction count): the fit is within 1.2 % of every one, and leaving any one out
of the fit predicts it within 2.4 %. The vector sweeps grow with the horizon like the rows do, and the fit
could not tell them apart: the rows' cost carries them, and the real-time warm start's
floors on the two-sided boxes too (a part of their own was fitted to 0 and the rows' cost
rose). The bound is the sum times ``MARGIN``, rounded up to a thousand. It is a model,
not an analysis of the binary: ``mpcgen firmware`` measures every step of its run and
fails when one exceeds the bound (benchmarks/firmware_fit.py repeats the fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Instructions per unit of each part (fitted, rounded up; see the module docstring).
COSTS = {
    "model": 2.00,
    "sincos": 71.0,
    "factor": 1.52,
    "rows": 195.0,
    "fixed": 1427.0,
}
#: Headroom over the fitted sum: above the fit's leave-one-out error (at most 2.4 %).
MARGIN = 1.03


@dataclass(frozen=True)
class Part:
    name: str
    units: int
    meaning: str

    @property
    def instructions(self) -> float:
        return COSTS[self.name] * self.units


@dataclass(frozen=True)
class StepBound:
    """Worst-case instructions of one real-time step, with the parts it is summed from."""

    parts: tuple[Part, ...]

    @property
    def instructions(self) -> int:
        return int(math.ceil(MARGIN * sum(p.instructions for p in self.parts) / 1000.0)) * 1000

    def lines(self) -> list[str]:
        """The derivation, one line per part, for the header."""
        rows = [f"{p.name:<7} {p.units:>8} units x {COSTS[p.name]:>5.2f} = {p.instructions:>9.0f}  {p.meaning}"
                for p in self.parts]
        total = sum(p.instructions for p in self.parts)
        rows.append(f"sum {total:.0f} x margin {MARGIN} = {MARGIN * total:.0f}, rounded up to {self.instructions}")
        return rows


def step_bound(mpc, model_program) -> StepBound:
    """The bound of the controller ``mpc`` (an :class:`~.mpc_program.MpcProgram`) whose model
    functions are ``model_program`` (:class:`~.model_program.Program`)."""
    qp, L = mpc.qp, mpc.qp.layout
    N, nx, nu = L.N, L.nx, L.nu
    # the controller's hot path: the packed Jacobians, or in the looped substep form the dense
    # F_and_jacobians, its block once per substep plus the chain rule's products
    name = "F_and_jacobians" if model_program.looped else "F_and_jacobians_nz"
    hot = next(f.block for f in model_program.functions if f.name == name)
    S = model_program.repeats
    model_ops = S * hot.n_operations + (S - 1) * nx * nx * (nx + nu)
    ocp_ops = sum(f.block.n_operations for f in mpc.ocp_functions.functions) if mpc.ocp_functions else 0
    sincos = S * sum(1 for s in hot.statements if s.kind == "sincos")
    general = bool(L.ng or L.ngn)
    tiles = [t for product in ("PB", "Lr", "PA", "Sb", "Pk") for t in qp.factor_tiles(product, general)]
    tile_work = sum(len(s.loads) + len(s.macs) for t in tiles for s in t.steps) + sum(len(t.stores) for t in tiles)
    return StepBound((
        Part("model", N * (model_ops + ocp_ops),
             f"N x {model_ops} operations of {name}" + (f" ({S} substeps)" if S > 1 else "")
             + (f" + {ocp_ops} of the OCP's functions" if ocp_ops else "")),
        Part("sincos", N * sincos, f"N x {sincos} fixed-work sine-cosine pairs"),
        Part("factor", N * (tile_work + nx * nu * nu),
             f"N x ({tile_work} loads, multiply-adds and stores of the factorization's tiles + nx nu^2 of K)"),
        Part("rows", L.n_rows + L.n_soft + N * L.ng * (nx + nu),
             f"{L.n_rows} rows ({L.n_soft} soft) and the sweeps along the horizon"),
        Part("fixed", 1, "calls and checks of the step"),
    ))
