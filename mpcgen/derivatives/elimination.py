"""Products f_z(x, u, p) V of the ODE's Jacobian with a matrix, by vertex elimination.

The stage-wise sensitivities need, at every Runge-Kutta stage, the ODE's Jacobian times
the stage's sensitivity matrix. Two ways to form that product are the extremes of one
family: multiplying with the explicit Jacobian (every intermediate of the ODE's graph
eliminated) and forward-mode AD (none eliminated, the seeds pushed through every
operation). Here the ODE's linearized graph (one vertex per operation, an edge weighted
with the local partial derivative from each operand) is reduced by eliminating, one at
a time, the intermediate vertex whose elimination removes the most per-column
operations (Markowitz-style, greedy), while that adds none. A vertex with one operand
and one use always goes. On the chain of masses 22 of its intermediates stay, among them
the springs' difference vectors (each used by the forces on both ends and by the
spring's length), so a column is pushed through a spring once instead of once per end.

Per column of V a kept vertex costs one addition per incoming edge beyond the first
and one multiplication per edge whose weight is not +-1; the edge weights are
column-independent and computed once per stage.
"""

from __future__ import annotations

import casadi as ca

from ..problem.model import Model


def jacobian_times(model: Model, eliminate_all: bool = False) -> ca.Function:
    """(x, u, p, V) -> (f, f_z V) with z = (x, u, p) and V of size nz x nz.

    ``eliminate_all``: eliminate every intermediate (the explicit Jacobian, formed on the
    graph) instead of stopping where an elimination would add per-column operations."""
    m = model
    nz = m.nx + m.nu + m.np
    fn = ca.Function("ode", [m.x, m.u, m.p], [m.ode], {"cse": True})
    z = ca.vertcat(m.x, m.u, m.p)
    offsets = (0, m.nx, m.nx + m.nu)
    # vertices: inputs 0..nz-1, then one per operation; preds[v] = {u: weight}
    preds: list[dict[int, ca.SX]] = [{} for _ in range(nz)]
    value: list[ca.SX] = [z[i] for i in range(nz)]
    work: dict[int, tuple[str, object]] = {}     # work index -> ("v", vertex) | ("c", constant SX)
    outputs: list[tuple[str, object]] = [("c", ca.SX(0.0))] * m.nx
    for k in range(fn.n_instructions()):
        op = fn.instruction_id(k)
        ins = fn.instruction_input(k)
        outs = fn.instruction_output(k)
        if op == ca.OP_INPUT:
            work[outs[0]] = ("v", offsets[ins[0]] + ins[1])
        elif op == ca.OP_CONST:
            work[outs[0]] = ("c", ca.SX(fn.instruction_constant(k)))
        elif op == ca.OP_OUTPUT:
            outputs[outs[1]] = work[ins[0]]
        else:
            args = [work[i] for i in ins]
            vals = [value[a] if kind == "v" else a for kind, a in args]
            syms = [ca.SX.sym(f"a{j}") for j in range(len(args))]
            expr = ca.SX.unary(op, syms[0]) if len(args) == 1 else ca.SX.binary(op, syms[0], syms[1])
            local: dict[int, ca.SX] = {}
            for (kind, a), s in zip(args, syms):
                if kind != "v":
                    continue
                partial = ca.substitute(ca.jacobian(expr, s), ca.vertcat(*syms), ca.vertcat(*vals))
                if partial.nnz() == 0 or (partial.is_constant() and float(partial) == 0.0):
                    continue
                local[a] = local[a] + partial if a in local else partial
            v = len(value)
            value.append(ca.SX.unary(op, vals[0]) if len(args) == 1 else ca.SX.binary(op, vals[0], vals[1]))
            preds.append(local)
            work[outs[0]] = ("v", v)
    keep = {a for kind, a in outputs if kind == "v"}
    _eliminate(preds, nz, keep, eliminate_all)

    V = ca.SX.sym("V", nz, nz)
    rows: dict[int, ca.SX] = {i: V[i, :] for i in range(nz)}
    for v in range(nz, len(preds)):
        if preds[v] is None:
            continue
        row = ca.SX(1, nz)
        for u, w in preds[v].items():
            row = row + w * rows[u]
        rows[v] = row
    d_out = ca.vertcat(*[rows[a] if kind == "v" else ca.SX(1, nz) for kind, a in outputs])
    return ca.Function("ode_jacobian_times", [m.x, m.u, m.p, V], [m.ode, d_out])


def _unit(w: ca.SX) -> bool:
    return w.is_constant() and abs(float(w)) == 1.0


def _column_cost(units: list[bool]) -> int:
    """Per-column operations of a vertex whose incoming edges have these weights (+-1 or not)."""
    return max(len(units) - 1, 0) + sum(1 for unit in units if not unit)


def _eliminate(preds: list, nz: int, keep: set[int], everything: bool) -> None:
    """Vertex elimination in place (eliminated vertices get ``None``): all intermediates, or
    greedily while an elimination does not add per-column operations."""
    succs: dict[int, set[int]] = {v: set() for v in range(len(preds))}
    units: dict[int, dict[int, bool]] = {}       # whether each edge's weight is +-1
    for v in range(nz, len(preds)):
        units[v] = {u: _unit(w) for u, w in preds[v].items()}
        for u in preds[v]:
            succs[u].add(v)

    def gain(v: int) -> int:
        """Change of the per-column operations if ``v`` were eliminated."""
        into = units[v]
        before = _column_cost(list(into.values()))
        after = 0
        for s in succs[v]:
            edges = dict(units[s])
            before += _column_cost(list(edges.values()))
            through = edges.pop(v)
            for u, unit in into.items():
                # a sum of two weights is taken as not +-1; a product is +-1 if both factors are
                edges[u] = False if u in edges else (unit and through)
            after += _column_cost(list(edges.values()))
        return after - before

    gains = {v: gain(v) for v in set(range(nz, len(preds))) - keep}
    while gains:
        v = min(sorted(gains), key=gains.__getitem__)
        if not everything and gains[v] > 0:
            break
        for s in succs[v]:
            w_vs, unit_vs = preds[s].pop(v), units[s].pop(v)
            for u, w in preds[v].items():
                product = w * w_vs
                if u in preds[s]:
                    preds[s][u], units[s][u] = preds[s][u] + product, False
                else:
                    preds[s][u], units[s][u] = product, units[v][u] and unit_vs
                succs[u].add(s)
        for u in preds[v]:
            succs[u].discard(v)
        changed = set(preds[v]) | succs[v] | {u for s in succs[v] for u in preds[s]}
        preds[v] = None
        succs[v] = set()
        del gains[v]
        for x in changed:
            if x in gains:
                gains[x] = gain(x)
