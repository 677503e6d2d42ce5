"""Every example's OCP and closed-loop scenario: well posed, solvable, and it reaches its goal.

The closed loops run the ideal NMPC (IPOPT to convergence at every sample) on the
accurately integrated plant; to keep them short, most use a horizon of 10 instead of
20 (the Riccati terminal weight covers the rest) and fewer samples than the demo.
"""

from __future__ import annotations

import dataclasses
import math

import casadi as ca
import numpy as np
import pytest

from mpcgen.derivatives.discretize import discrete_model
from mpcgen.errors import MpcgenError, OptionsError
from mpcgen.problem.examples import EXAMPLES, Scenario, get_example
from mpcgen.problem.examples.quadrotor import MAX_TILT
from mpcgen.problem.ocp import CheckedOcp, check_ocp
from mpcgen.problem.options import CodegenOptions
from mpcgen.runs.reference import IpoptMpc, solve_reference
from mpcgen.runs.simulate import simulate, simulate_scenario

WITH_OCP = [name for name, example in EXAMPLES.items() if example.ocp is not None]


def setup(spec: str) -> tuple:
    example, model = get_example(spec)
    options = CodegenOptions(ts=example.ts)
    checked = check_ocp(model, example.ocp(model), F=discrete_model(model, options))
    return example, model, options, checked


def nominal_parameters(model) -> np.ndarray:
    return np.array([v.nominal_value for v in model.parameters])


def test_every_example_has_an_ocp_and_a_scenario() -> None:
    assert WITH_OCP == list(EXAMPLES)
    assert all(example.scenario is not None for example in EXAMPLES.values())


@pytest.mark.parametrize("spec", [*WITH_OCP, "chain:1", "chain:12"])
def test_reference_is_an_equilibrium_of_the_discrete_model(spec: str) -> None:
    """F(x_ref, u_ref, p_nom) = x_ref on the discretization the generated C uses."""
    example, model = get_example(spec)
    ocp = example.ocp(model)
    F = discrete_model(model, CodegenOptions(ts=example.ts))
    x_ref = np.zeros(model.nx) if ocp.x_ref is None else np.asarray(ocp.x_ref, float)  # None: the origin
    u_ref = np.zeros(model.nu) if ocp.u_ref is None else np.asarray(ocp.u_ref, float)
    x_next = np.array(F(x_ref, u_ref, nominal_parameters(model))).ravel()
    np.testing.assert_allclose(x_next, x_ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", WITH_OCP)
def test_ocp_is_well_posed(name: str) -> None:
    """Checks, has finite input bounds containing u_ref, and its terminal weight is positive definite."""
    _, model, _, checked = setup(name)
    assert isinstance(checked, CheckedOcp)
    assert np.isfinite(checked.u_lo).all() and np.isfinite(checked.u_hi).all()
    assert (checked.u_lo <= checked.u_ref).all() and (checked.u_ref <= checked.u_hi).all()
    assert (checked.x_lo <= checked.x_ref).all() and (checked.x_ref <= checked.x_hi).all()
    assert np.linalg.eigvalsh(checked.P).min() > 0
    if checked.y.numel():
        y_fn = ca.Function("y", [model.x, model.u, model.p], [checked.y])
        y = np.array(y_fn(checked.x_ref, checked.u_ref, nominal_parameters(model))).ravel()
        np.testing.assert_allclose(y, checked.y_ref, atol=1e-12, err_msg="y_ref is the output at the reference")


@pytest.mark.parametrize("name", WITH_OCP)
def test_scenario_fits_its_model(name: str) -> None:
    example, model = get_example(name)
    scenario = example.scenario(model)
    assert isinstance(scenario, Scenario) and scenario.description
    assert len(scenario.x0) == model.nx and all(math.isfinite(v) for v in scenario.x0)
    assert scenario.steps >= 1
    for k, p in scenario.disturbance:
        assert 0 <= k < scenario.steps and len(p) == model.np
    hash(scenario)  # immutable all the way down


@pytest.mark.parametrize("name", WITH_OCP)
def test_ipopt_solves_the_ocp_from_the_scenario_start(name: str) -> None:
    example, model, options, checked = setup(name)
    sol = solve_reference(checked, options, example.scenario(model).x0)
    assert sol.success, sol.status
    tol = 1e-6 * np.maximum(1.0, np.abs(checked.u_hi - checked.u_lo))
    assert (sol.U[0] >= checked.u_lo - tol).all() and (sol.U[0] <= checked.u_hi + tol).all()
    F = discrete_model(model, options)
    for k in range(checked.N):
        x_next = np.array(F(sol.X[k], sol.U[k], nominal_parameters(model))).ravel()
        np.testing.assert_allclose(x_next, sol.X[k + 1], atol=1e-7 * max(1.0, np.abs(sol.X).max()))


def test_scenario_rejects_a_disturbance_after_its_end() -> None:
    with pytest.raises(MpcgenError, match="disturbance at sample 5 is outside 0..4"):
        Scenario("bad", x0=(0.0,), steps=5, disturbance=((5, (1.0,)),))


def test_disturbance_switches_the_plant_parameters() -> None:
    """A change at sample 0 is the same as running with those parameters throughout;
    a change at sample 3 leaves the first three samples on the nominal plant."""
    example, model = get_example("pendulum")
    heavy = nominal_parameters(model) * [1.0, 1.2, 1.0]
    zero = lambda x: np.zeros(1)  # noqa: E731
    x0 = [0.0, 0.3, 0.0, 0.0]
    switched = simulate(model, zero, x0, example.ts, 6, disturbance=[(0, heavy)])
    throughout = simulate(model, zero, x0, example.ts, 6, p_true=heavy)
    np.testing.assert_array_equal(switched.X, throughout.X)
    later = simulate(model, zero, x0, example.ts, 6, disturbance=[(3, heavy)])
    nominal = simulate(model, zero, x0, example.ts, 6)
    np.testing.assert_array_equal(later.X[:4], nominal.X[:4])
    assert not np.allclose(later.X[4:], nominal.X[4:])
    with pytest.raises(OptionsError, match="disturbance at sample 2: 2 parameters, model 'pendulum' has 3"):
        simulate(model, zero, x0, example.ts, 6, disturbance=[(2, [1.0, 2.0])])


# Closed loops ---------------------------------------------------------------------
def wrapped(angle):
    return np.angle(np.exp(1j * np.asarray(angle)))


def pendulum_upright(r, ocp) -> None:
    error = r.X[-1] - ocp.x_ref
    error[1] = wrapped(error[1])
    assert np.abs(error).max() < 0.05, error


def quadrotor_hovers_at_target(r, ocp) -> None:
    assert np.linalg.norm(r.X[-1, :3] - ocp.x_ref[:3]) < 0.03, r.X[-1, :3]
    assert np.abs(r.X[-1, 3:6]).max() < 0.1, "nearly at rest"
    assert np.abs(r.X[:, 6:8]).max() < MAX_TILT + 0.02, "roll and pitch (softly) bounded"


def cstr_holds_concentration(r, ocp) -> None:
    # the run ends in the middle of the unmeasured colder-feed disturbance
    assert np.abs(r.X[-10:, 1] - ocp.x_ref[1]).max() < 0.005, "cB at its setpoint"
    assert np.abs(r.X[-1, 2] - ocp.x_ref[2]) < 3.0, "T near its setpoint"
    assert (r.X[:, 2:] > 100.0 - 0.5).all() and (r.X[:, 2:] < 130.0 + 0.5).all(), "temperatures in their band"


def arm_at_target(r, ocp) -> None:
    assert np.abs(r.X[-1, :2] - ocp.x_ref[:2]).max() < 0.05, r.X[-1]
    assert np.abs(r.X[:, 2:]).max() < 3.0 + 0.1, "joint speeds (softly) bounded"


def chain_at_rest(r, ocp) -> None:
    assert np.linalg.norm(r.X[-1, -3:] - ocp.x_ref[-3:]) < 0.02, "end point at its target"
    assert np.abs(r.X[-1] - ocp.x_ref).max() < 0.05, "chain back at rest"


CLOSED_LOOPS = {  # example: (spec, horizon, samples, goal reached)
    "pendulum": ("pendulum", 20, 50, pendulum_upright),
    "quadrotor": ("quadrotor", 10, 60, quadrotor_hovers_at_target),
    "cstr": ("cstr", 10, 40, cstr_holds_concentration),
    "robot_arm": ("robot_arm", 10, 60, arm_at_target),
    "chain": ("chain:1", 10, 50, chain_at_rest),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_OCP)
def test_ideal_nmpc_reaches_the_scenario_goal(name: str) -> None:
    spec, horizon, samples, goal_reached = CLOSED_LOOPS[name]
    example, model, options, checked = setup(spec)
    ocp = dataclasses.replace(checked, N=horizon)
    r = simulate_scenario(model, IpoptMpc(ocp, options), example.scenario(model), example.ts, steps=samples)
    assert (r.U >= ocp.u_lo).all() and (r.U <= ocp.u_hi).all(), "inputs within their bounds"
    goal_reached(r, ocp)
