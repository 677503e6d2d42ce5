"""The optimal-control problem description and its IPOPT reference solutions."""

from __future__ import annotations

import casadi as ca
import numpy as np
import pytest

from mpcgen.derivatives.discretize import discrete_model
from mpcgen.problem.examples import EXAMPLES, get_example, pendulum
from mpcgen.problem.ocp import Ocp, OcpError, check_ocp
from mpcgen.problem.options import CodegenOptions
from mpcgen.runs.reference import solve_reference

EX, MODEL = get_example("pendulum")
OPTS = CodegenOptions(ts=EX.ts)
Q = 2 * np.diag([1e3, 1e3, 1e-2, 1e-2])


def _ocp(**kw) -> Ocp:
    base = dict(N=20, Q=Q, R=[[2e-2]], P=Q, u_lo=[-80.0], u_hi=[80.0])
    base.update(kw)
    return Ocp(**base)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"N": 0}, "horizon N must be an integer from 1 to 1000"),
        ({"Q": np.diag([1.0, -1.0, 1.0, 1.0])}, "Q is not positive semidefinite (smallest eigenvalue -1"),
        ({"Q": np.eye(3)}, "Q is 3x3, must be 4x4"),
        ({"R": [[1.0, 0.0], [0.0, 1.0]]}, "R is 2x2, must be 1x1"),
        ({"Q": np.triu(np.ones((4, 4)))}, "Q is not symmetric"),
        ({"u_lo": [90.0]}, "input 'F' has lower bound 90.0 > upper bound 80.0"),
        ({"u_lo": None}, "every input needs finite bounds"),
        ({"x_lo": [0, 0, 0, np.nan]}, "x_lo contains NaN at index 3"),
        ({"x_hi": [1.0, 2.0]}, "x_hi has 2 entries, the model needs 4"),
        ({"h": ca.SX.sym("z") ** 2}, "h uses symbol(s) z that are not states, inputs or parameters"),
        ({"h_terminal": MODEL.u[0]}, "h_terminal uses symbol(s) F that are not states or parameters"),
        ({"x_hi": [1, 1, 1, 1], "slack_l1": 0.0, "slack_l2": 0.0}, "soft constraints need a slack penalty"),
        ({"slack_l1": -1.0}, "slack_l1 must be a finite number >= 0"),
        ({"P": None}, "P not given and no discrete model"),
    ],
)
def test_invalid_ocps_name_the_problem(kw, message) -> None:
    with pytest.raises(OcpError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_ocp(MODEL, _ocp(**kw))


def test_terminal_weight_solves_the_riccati_equation() -> None:
    F = discrete_model(MODEL, OPTS)
    checked = check_ocp(MODEL, _ocp(P=None), F=F)
    assert checked.P_from_riccati
    P, R = checked.P, checked.R
    x, u = ca.SX.sym("x", 4), ca.SX.sym("u", 1)
    p = [v.nominal_value for v in MODEL.parameters]
    A, B = (np.array(v) for v in ca.Function("j", [x, u], [ca.jacobian(F(x, u, p), x), ca.jacobian(F(x, u, p), u)])(
        np.zeros(4), np.zeros(1)))
    residual = Q + A.T @ P @ A - A.T @ P @ B @ np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A) - P
    assert np.abs(residual).max() <= 1e-8 * np.abs(P).max()
    assert np.linalg.eigvalsh(P).min() > 0
    # the LQR gain from P stabilizes the (unstable) upright linearization
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    assert np.abs(np.linalg.eigvals(A)).max() > 1.0
    assert np.abs(np.linalg.eigvals(A - B @ K)).max() < 1.0


def test_reference_swing_up_respects_dynamics_and_bounds() -> None:
    checked = check_ocp(MODEL, pendulum.ocp())
    sol = solve_reference(checked, OPTS, [0.0, np.pi, 0.0, 0.0])
    assert sol.success, sol.status
    assert np.abs(sol.U).max() <= 80.0 * (1 + 1e-6)
    F = discrete_model(MODEL, OPTS)
    p = [v.nominal_value for v in MODEL.parameters]
    for k in range(checked.N):
        np.testing.assert_allclose(np.array(F(sol.X[k], sol.U[k], p)).ravel(), sol.X[k + 1], atol=1e-9)
    assert abs(sol.X[-1, 1]) < abs(sol.X[0, 1]), "the pole swings towards upright"
    assert np.abs(sol.U).max() > 79.0, "the swing-up saturates the force"


def test_soft_state_bounds_keep_the_problem_feasible() -> None:
    """From a state far outside the soft cart-position bound, the OCP still solves,
    and the bound pulls the trajectory back inside."""
    checked = check_ocp(MODEL, _ocp(x_lo=[-0.5, -np.inf, -np.inf, -np.inf], x_hi=[0.5, np.inf, np.inf, np.inf]))
    sol = solve_reference(checked, OPTS, [1.5, 0.0, 0.0, 0.0])
    assert sol.success, sol.status
    assert sol.X[-1, 0] < 1.5


def test_every_example_with_an_ocp_checks() -> None:
    for name, example in EXAMPLES.items():
        if example.ocp is not None:
            _, model = get_example(name)
            check_ocp(model, example.ocp(model), F=discrete_model(model, CodegenOptions(ts=example.ts)))
