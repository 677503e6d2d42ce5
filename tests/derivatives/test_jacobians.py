"""The formulations of the discrete model's Jacobians agree with CasADi's jacobian of the
step, keep its structural sparsity, and the kept one has the fewest operations."""

from __future__ import annotations

import casadi as ca
import numpy as np
import pytest

from mpcgen.derivatives.elimination import jacobian_times
from mpcgen.derivatives.jacobians import (derive, explicit_product, operation_count, reference_function,
                                          stagewise_sensitivities)
from mpcgen.problem.examples import get_example
from mpcgen.problem.options import CodegenOptions

EXAMPLES = ("pendulum", "cstr", "robot_arm", "quadrotor", "chain:1")


def _points(model, n=3, seed=0):
    """Points spread over the declared ranges of the states, inputs and parameters."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield [np.array([v.nominal_value + 0.1 * (v.hi - v.lo) * rng.uniform(-1, 1) for v in group])
               for group in (model.states, model.inputs, model.parameters)]


def _max_error(model, options, quantities) -> float:
    """Largest difference to CasADi's jacobian of the fully unrolled step, scaled by its size."""
    ref = reference_function(model, options)
    got = ca.Function("got", [model.x, model.u, model.p], list(quantities))
    worst = 0.0
    for point in _points(model):
        for r, g in zip(ref(*point), got(*point)):
            r, g = np.array(r), np.array(g)
            if r.size:
                worst = max(worst, float(np.max(np.abs(r - g)) / (1.0 + np.max(np.abs(r)))))
    return worst


@pytest.mark.parametrize("spec", EXAMPLES)
def test_jacobian_times_is_the_jacobian_product(spec):
    # f_z V for a random V: the reduced graph and the fully eliminated one equal CasADi's f_z V
    _, m = get_example(spec)
    nz = m.nx + m.nu + m.np
    V = np.random.default_rng(1).normal(size=(nz, nz))
    J = ca.Function("J", [m.x, m.u, m.p], [ca.jacobian(m.ode, ca.vertcat(m.x, m.u, m.p))])
    ode = ca.Function("f", [m.x, m.u, m.p], [m.ode])
    for point in _points(m, n=2):
        want = np.array(J(*point)) @ V
        for product in (jacobian_times(m), jacobian_times(m, eliminate_all=True), explicit_product(m)):
            f, fzV = product(*point, V)
            assert np.max(np.abs(np.array(fzV) - want)) <= 1e-13 * (1.0 + np.max(np.abs(want)))
            assert np.array_equal(np.array(f), np.array(ode(*point)))


@pytest.mark.parametrize("spec", EXAMPLES)
@pytest.mark.parametrize("integrator,substeps", [("rk4", 1), ("rk4", 2), ("rk2", 1), ("euler", 3)])
def test_every_formulation_matches_casadi(spec, integrator, substeps):
    # the three families (explicit stage products, reduced graph from some stage on, and
    # the kept one) agree with symbolic AD of the unrolled step to rounding
    example, m = get_example(spec)
    options = CodegenOptions(ts=example.ts, integrator=integrator, substeps=substeps, substep_form="unrolled")
    n_stages = {"rk4": 4, "rk2": 2, "euler": 1}[integrator]
    reduced, explicit = jacobian_times(m), jacobian_times(m, eliminate_all=True)
    for first in (0, n_stages // 2, n_stages):
        products = (explicit,) * first + (reduced,) * (n_stages - first)
        assert _max_error(m, options, stagewise_sensitivities(m, options, substeps, products)) <= 1e-12
    d = derive(m, options)
    assert _max_error(m, options, (d.x_next, d.A, d.B, d.P)) <= 1e-12


@pytest.mark.parametrize("spec", EXAMPLES)
def test_kept_formulation_has_fewest_operations_and_casadis_sparsity(spec):
    example, m = get_example(spec)
    options = CodegenOptions(ts=example.ts)
    d = derive(m, options)
    inputs = [m.x, m.u, m.p]
    step = reference_function(m, options)(m.x, m.u, m.p)[0]
    natural = [step, ca.jacobian(step, m.x), ca.jacobian(step, m.u)]
    kept = operation_count([d.x_next, d.A, d.B], inputs)
    assert kept <= operation_count(natural, inputs)
    assert kept <= operation_count(list(stagewise_sensitivities(m, options, 1)[:3]), inputs)
    # no structural zero of CasADi's Jacobians is stored as a nonzero
    for ours, theirs in ((d.A, natural[1]), (d.B, natural[2])):
        assert set(zip(ours.sparsity().row(), ours.sparsity().get_col())) <= \
            set(zip(theirs.sparsity().row(), theirs.sparsity().get_col()))


def test_chain_keeps_the_eliminated_graph():
    # the case the elimination is for: a spring's difference vector feeds both masses
    example, m = get_example("chain")
    d = derive(m, CodegenOptions(ts=example.ts))
    assert d.method == "elimination"
