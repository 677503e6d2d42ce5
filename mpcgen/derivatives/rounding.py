"""The same CasADi expressions with every constant rounded to float.

A float build evaluates the constants of its expressions as float literals. Evaluated in
double, the C of a float folder computes exactly the expressions of this function:
verification compares the two to double's tolerance, which checks every expression and
constant of the float program far below float's own rounding (see
:mod:`mpcgen.checks.verification`).
"""

from __future__ import annotations

import casadi as ca
import numpy as np


def with_constants_rounded(fn: ca.Function, dtype=np.float32) -> ca.Function:
    """``fn`` (an SX function) rebuilt instruction by instruction with each constant rounded to ``dtype``."""
    inputs = [ca.SX.sym(fn.name_in(i), fn.sparsity_in(i)) for i in range(fn.n_in())]
    outputs = [ca.SX(fn.sparsity_out(o)) for o in range(fn.n_out())]
    work: dict[int, ca.SX] = {}
    for k in range(fn.n_instructions()):
        op = fn.instruction_id(k)
        ins, outs = fn.instruction_input(k), fn.instruction_output(k)
        if op == ca.OP_INPUT:
            work[outs[0]] = inputs[ins[0]].nz[ins[1]]
        elif op == ca.OP_CONST:
            work[outs[0]] = ca.SX(float(dtype(fn.instruction_constant(k))))
        elif op == ca.OP_OUTPUT:
            outputs[outs[0]].nz[outs[1]] = work[ins[0]]
        elif len(ins) == 1:
            work[outs[0]] = ca.SX.unary(op, work[ins[0]])
        else:
            work[outs[0]] = ca.SX.binary(op, work[ins[0]], work[ins[1]])
    return ca.Function(f"{fn.name()}_rounded", inputs, outputs, fn.name_in(), fn.name_out())
