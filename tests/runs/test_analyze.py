"""mpcgen analyze: singular values, weak directions, singularities and covariance propagation.

Each fact is checked against an independent computation: the arm's kinematics, the
finite-horizon controllability Gramian summed term by term, an exactly linear model.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import ROOT

from mpcgen import Model, var
from mpcgen.cli import main
from mpcgen.derivatives.discretize import discrete_model
from mpcgen.derivatives.jacobians import reference_function
from mpcgen.problem.examples import get_example
from mpcgen.problem.ocp import check_ocp
from mpcgen.problem.options import CodegenOptions
from mpcgen.runs.analyze import analyze_model, find_singularities, half_ranges, plot_analysis
from mpcgen.runs.propagation import propagate


def _problem(name: str):
    example, model = get_example(name)
    options = CodegenOptions(ts=example.ts)
    return model, options, check_ocp(model, example.ocp(model), discrete_model(model, options))


def test_the_arm_is_singular_at_full_extension_where_the_tip_cannot_move_radially() -> None:
    model, _, ocp = _problem("robot_arm")
    (found,) = [s for s in find_singularities(model, ocp) if s.function.startswith("OCP outputs")]
    assert found.singular and found.rank == 2
    q1, q2 = found.point["q1"], found.point["q2"]
    assert abs(math.sin(q2)) < 1e-6 and math.cos(q2) > 0    # stretched out, not folded back
    l1, l2 = (v.nominal_value for v in model.parameters[2:])
    tip = np.array([l1 * math.cos(q1) + l2 * math.cos(q1 + q2), l1 * math.sin(q1) + l2 * math.sin(q1 + q2)])
    lost = np.array(found.lost.weights)
    assert abs(lost @ tip) / np.linalg.norm(tip) > 1 - 1e-9   # the radial direction is the one lost
    assert "loses rank" in found.line() and "q2 = " in found.line()
    # the torques always move the joints (the mass matrix is positive definite): no singular input map
    (input_map,) = [s for s in find_singularities(model, ocp) if s.function.startswith("input map")]
    assert not input_map.singular


def test_pendulum_weak_directions_upright_and_hanging_match_the_gramian() -> None:
    model, options, ocp = _problem("pendulum")
    hanging = ([0.0, math.pi, 0.0, 0.0], [0.0])
    a = analyze_model(model, options, ocp, {"hanging": hanging}, samples=0, mc_samples=200)
    jac = reference_function(model, options)
    p = [v.nominal_value for v in model.parameters]
    D, Du = half_ranges(model.states), half_ranges(model.inputs)
    for point in (a.points[0], a.points[-1]):
        assert point.label in ("nominal = OCP reference", "hanging")
        _, A, B, _ = (m.full() for m in jac(point.x, point.u, p))
        As, Bs = A * D[None, :] / D[:, None], B * Du[None, :] / D[:, None]
        W = sum(np.linalg.matrix_power(As, k) @ Bs @ Bs.T @ np.linalg.matrix_power(As, k).T for k in range(ocp.N))
        lam, vec = np.linalg.eigh(W)
        weak = point.weak_control
        assert weak.sigma ** 2 == pytest.approx(lam[0], rel=1e-8)
        assert abs(np.dot(weak.weights, vec[:, 0])) > 1 - 1e-8
        assert weak.relative < 0.05     # weak: the cart-pole needs 20x more input for it than for its best
        assert point.weak_observe is not None   # the model measures p and theta
    findings = "\n".join(a.findings())
    assert "nominal = OCP reference: inputs barely move" in findings and "hanging: inputs barely move" in findings
    assert "theta" in findings and "sensors barely see" in findings


def test_linear_propagation_is_exact_on_a_linear_model() -> None:
    q, v, f = var("q", -1, 1), var("v", -1, 1), var("f", -1, 1)
    model = Model("integrator", [q, v], [f], [v.symbol, f.symbol], process_noise=(1e-3, 1e-2))
    options = CodegenOptions(ts=0.1)
    prop = propagate(model, options, [0.0, 0.0], np.zeros((30, 1)), np.diag([1e-2, 4e-2]), cov_u=[[0.01]],
                     samples=4000, seed=3)
    assert not prop.breaks()
    A, B = np.array([[1, 0.1], [0, 1]]), np.array([[0.005], [0.1]])
    S = np.diag([1e-2, 4e-2])
    for _ in range(30):
        S = A @ S @ A.T + 0.01 * B @ B.T + np.diag([1e-6, 1e-4])
    assert prop.std_linear[-1] == pytest.approx(np.sqrt(np.diag(S)), rel=1e-12)
    assert np.all(np.abs(prop.ratio - 1) < 4 / np.sqrt(2 * 3999))   # within four standard errors
    assert "holds" in prop.findings()[0]


def test_first_order_holds_for_a_small_spread_and_breaks_for_a_large_one_on_the_pendulum() -> None:
    model, options, _ = _problem("pendulum")
    hanging, U = [0.0, math.pi, 0.0, 0.0], np.zeros((20, 1))
    small = propagate(model, options, hanging, U, np.diag((0.01 * half_ranges(model.states)) ** 2), samples=2000)
    assert not small.breaks(), small.findings()
    large = propagate(model, options, hanging, U, np.diag((0.3 * half_ranges(model.states)) ** 2), samples=2000)
    broken = {model.states[i].name for i, _, _ in large.breaks()}
    assert broken & {"theta", "omega"}, large.findings()
    assert any("spread by" in s and " s (step " in s for s in large.findings())


def test_analyze_cli_json_and_plot_on_a_generated_folder(tmp_path, capsys) -> None:
    assert main(["analyze", str(ROOT / "generated" / "robot_arm"), "--no-closed-loop", "--json", "--mc", "200",
                 "--plot", str(tmp_path / "arm.png")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any(s["singular"] and "q2" in s["point"] for s in data["singularities"])
    assert data["scaling"]["cond_kkt"] > 1 and data["points"][0]["label"] == "nominal"
    assert (tmp_path / "arm.png").stat().st_size > 10_000


def test_analyze_along_the_closed_loop_of_the_pendulum(tmp_path) -> None:
    from mpcgen.runs.analyze import analyze

    a = analyze(ROOT / "generated" / "pendulum", samples=1, mc_samples=200, trajectory_points=10)
    assert len(a.trajectory) == 10 and a.trajectory[0].x == pytest.approx((0.0, math.pi, 0.0, 0.0))
    assert "closed loop worst (10)" in a.table()
    assert plot_analysis(a, tmp_path / "p.png").is_file()
