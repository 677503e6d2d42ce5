"""The generated nonlinear MPC (SQP real-time iteration + Riccati interior-point QP).

Facts checked on the compiled C of every example's controller:
- SQP iterated to convergence reaches IPOPT's solution of the same OCP (same
  discretization, slacks as variables): controls within 1e-5 relative, cost within
  1e-7 relative.
- Real-time iteration (one QP per sample) closes every example's scenario loop: the
  pendulum swings up from hanging down on the acados OCP, the quadrotor flies to its
  reference, the CSTR holds its setpoint through a feed disturbance, the robot arm
  and the chain reach rest; the applied inputs never leave their bounds.
- Bad input gives a status and a safe control, and the next good input recovers.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, example_problem

import mpcgen
from mpcgen.errors import EvaluationError
from mpcgen.problem.examples import EXAMPLES
from mpcgen.runs.reference import solve_reference
from mpcgen.runs.simulate import simulate_scenario

NAMES = [name for name, ex in EXAMPLES.items() if ex.ocp is not None]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_sqp_converges_to_ipopt_solution(folders: dict[str, Path], name: str) -> None:
    ex, model, options, ocp = example_problem(name)
    x0 = np.array(ex.scenario(model).x0)
    ref = solve_reference(ocp, options, x0)
    assert ref.success, ref.status
    ctrl = mpcgen.load(folders[name])
    ctrl.configure(sqp_max_iter=500, sqp_tol=1e-10, qp_tol=1e-10, qp_tol_comp=1e-12, qp_max_iter=100)
    ctrl.set_initial_guess(x0)  # the same initial guess IPOPT starts from
    u0 = ctrl.solve(x0)
    assert ctrl.last_status == "ok", ctrl.stats
    X, U = ctrl.trajectory()
    scale = max(1.0, float(np.abs(ref.U).max()))
    assert np.abs(U - ref.U).max() <= 1e-5 * scale
    assert np.abs(u0 - ref.U[0]).max() <= 1e-5 * scale
    assert abs(ctrl.stats["cost"] - ref.cost) <= 1e-7 * abs(ref.cost)


def closed_loop(folder: Path, name: str, steps: int | None = None):
    ex, model, options, ocp = example_problem(name)
    scenario = ex.scenario(model)
    ctrl = mpcgen.load(folder)
    # the documented start: a converged plan (or nearly: the SQP's cap), then real time
    assert ctrl.start(scenario.x0) in ("ok", "max_iter")
    statuses: list[str] = []

    def controller(x: np.ndarray) -> np.ndarray:
        u = ctrl.step(x)
        statuses.append(ctrl.last_status)
        return u

    result = simulate_scenario(model, controller, scenario, ex.ts, steps=steps)
    assert (result.U >= ocp.u_lo - 1e-12).all() and (result.U <= ocp.u_hi + 1e-12).all()
    return result, ocp, statuses


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_rti_closed_loop_reaches_the_reference(folders: dict[str, Path], name: str) -> None:
    result, ocp, statuses = closed_loop(folders[name], name)
    assert statuses.count("ok") >= 0.9 * len(statuses)
    assert "qp_failure" not in statuses and "model_failure" not in statuses
    span = np.maximum(1.0, np.abs(ocp.x_ref))
    assert (np.abs(result.X[-1] - ocp.x_ref) / span).max() < 1e-2, result.X[-1]


def test_pendulum_swing_up_on_the_acados_ocp(folders: dict[str, Path]) -> None:
    """M=1, m=0.1, l=0.8, T=1 s, N=20, |F|<=80, Q=2diag(1e3,1e3,1e-2,1e-2), R=2e-2, from (0, pi, 0, 0)."""
    result, ocp, statuses = closed_loop(folders["pendulum"], "pendulum")
    assert ocp.N == 20 and ocp.u_hi[0] == 80.0
    assert set(statuses) == {"ok"}
    theta = result.X[:, 1]
    assert abs(theta[0] - math.pi) < 1e-12
    assert np.abs(result.U).max() == pytest.approx(80.0)  # the bound is used, never exceeded
    upright = np.flatnonzero(np.abs(theta) < 0.05)
    # up within half a second, then at most the overshoot the converged loop has too (0.16 rad)
    assert upright.size and upright[0] <= 10 and (np.abs(theta[upright[0]:]) < 0.2).all()
    # settled: position and angle within 1e-3 over the last 30 samples; the velocities carry
    # the reused factorization's chatter (README, "Reused factorization"): up to 1.1e-3 here,
    # 3.5e-4 with rt_reuse = 0
    tail = np.abs(result.X[-30:])
    assert tail[:, :2].max() < 1e-3 and tail[:, 2:].max() < 2e-3, tail.max(axis=0)


def test_nonfinite_state_gives_a_safe_control_then_recovers(folders: dict[str, Path]) -> None:
    _, _, _, ocp = example_problem("pendulum")
    ctrl = mpcgen.load(folders["pendulum"])
    x = np.array([0.0, 0.3, 0.0, 0.0])
    ctrl.start(x)
    ctrl.step(x)
    _, plan = ctrl.trajectory()  # after step: shifted, so plan[0] is the safe control
    for bad in (np.nan, np.inf, -np.inf):
        u = ctrl.step([0.0, bad, 0.0, 0.0])
        assert ctrl.last_status == "nonfinite_input"
        assert np.isfinite(u).all() and ocp.u_lo[0] <= u[0] <= ocp.u_hi[0]
    assert ctrl.step(x).size == 1 and ctrl.last_status == "ok"
    extreme = ctrl.step([1e300, -1e300, 1e300, 1e300])  # finite but absurd
    assert np.isfinite(extreme).all() and ocp.u_lo[0] <= extreme[0] <= ocp.u_hi[0]
    for _ in range(3):
        u = ctrl.step(x)
    assert ctrl.last_status == "ok" and np.isfinite(u).all()
    assert plan.shape == (20, 1)


def test_state_outside_its_bounds_still_gets_a_control(folders: dict[str, Path]) -> None:
    """Soft state bounds keep the QP feasible from any state."""
    problems = [example_problem(n) for n in NAMES]
    ex, model, options, ocp = next(p for p in problems if np.isfinite(p[3].x_lo).any() or np.isfinite(p[3].x_hi).any())
    name = ex.name
    x = np.array(ex.scenario(model).x0, dtype=float)
    i = int(np.flatnonzero(np.isfinite(ocp.x_hi))[0]) if np.isfinite(ocp.x_hi).any() else None
    if i is not None:
        x[i] = ocp.x_hi[i] + 0.5 * max(1.0, abs(ocp.x_hi[i]))
    else:
        i = int(np.flatnonzero(np.isfinite(ocp.x_lo))[0])
        x[i] = ocp.x_lo[i] - 0.5 * max(1.0, abs(ocp.x_lo[i]))
    ctrl = mpcgen.load(folders[name])
    ctrl.set_initial_guess(x)
    ctrl.prepare()
    u = ctrl.step(x)
    assert ctrl.last_status in ("ok", "max_iter")
    assert ((u >= ocp.u_lo) & (u <= ocp.u_hi)).all()


def test_setters_check_their_arguments(folders: dict[str, Path]) -> None:
    ctrl = mpcgen.load(folders["pendulum"])
    ctrl.set_x_ref([0.1, 0.0, 0.0, 0.0])
    ctrl.set_x_ref([0.2, 0.0, 0.0, 0.0], stage=20)
    with pytest.raises(EvaluationError, match="x_ref has NaN or Inf at index 0"):
        ctrl.set_x_ref([np.nan, 0.0, 0.0, 0.0])
    with pytest.raises(EvaluationError, match="stage 21 is not one of 0..20"):
        ctrl.set_x_ref([0.0] * 4, stage=21)
    with pytest.raises(EvaluationError, match="entries"):
        ctrl.set_u_ref([0.0, 0.0])
    with pytest.raises(EvaluationError, match="bad argument"):
        ctrl.configure(qp_max_iter=0)
    with pytest.raises(EvaluationError, match="R has NaN or Inf"):
        ctrl.set_weights(R=[[np.inf]])


def test_a_setter_between_feedback_and_prepare_stops_the_reuse(folders: dict[str, Path]) -> None:
    """A steady plan reuses its factorization and the Jacobians it was built from; after a
    setter between feedback and prepare (the model's parameters, a weight, a reference, the
    settings, each at its own value) the next preparation factors and linearizes afresh,
    then reuse resumes."""
    from mpcgen.runs.simulate import simulate

    ex, model, options, ocp = example_problem("pendulum")
    ctrl = mpcgen.load(folders["pendulum"])
    x = np.array([0.0, 0.1, 0.0, 0.0])     # near upright: the plan settles within a second
    assert ctrl.start(x) == "ok"
    x = simulate(model, ctrl.step, x, ex.ts, 60).X[-1]
    assert ctrl.stats["reused"] == 1, "a settled plan reuses its factorization"
    p = [v.nominal_value for v in model.parameters]
    for setter in (lambda: ctrl.set_p(p), lambda: ctrl.set_weights(R=ocp.R), lambda: ctrl.set_x_ref(ocp.x_ref),
                   lambda: ctrl.configure(levenberg_marquardt=0.0)):
        ctrl.feedback(x)
        setter()
        assert ctrl.prepare() == "ok" and ctrl.stats["reused"] == 0
        for _ in range(3):
            ctrl.step(x)
        assert ctrl.stats["reused"] == 1


def test_reference_change_moves_the_cart(folders: dict[str, Path]) -> None:
    ex, model, options, ocp = example_problem("pendulum")
    ctrl = mpcgen.load(folders["pendulum"])
    x = np.zeros(4)
    ctrl.set_initial_guess(x)
    ctrl.set_x_ref([0.5, 0.0, 0.0, 0.0])
    ctrl.prepare()
    from mpcgen.runs.simulate import simulate

    result = simulate(model, ctrl.step, x, ex.ts, 80)
    assert abs(result.X[-1, 0] - 0.5) < 1e-2


@pytest.mark.slow
def test_float_controller_follows_the_double_one(tmp_path: Path, folders: dict[str, Path]) -> None:
    single = mpcgen.generate("pendulum", tmp_path / "pendulum_float", precision="float")
    double_result, _, _ = closed_loop(folders["pendulum"], "pendulum")
    float_result, _, statuses = closed_loop(single, "pendulum")
    assert statuses.count("ok") >= 0.9 * len(statuses)
    assert np.abs(float_result.X[-1]).max() < 1e-2
    assert np.abs(float_result.X - double_result.X).max() < 0.05


def test_user_model_file_with_its_ocp_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate picks FUNCTION_ocp from the model file; simulate runs the closed loop and plots it."""
    from mpcgen.cli import main

    source = ROOT / "tests" / "data" / "user_mpc.py"
    out = tmp_path / "arm"
    assert main(["generate", f"{source}:arm", "-o", str(out)]) == 0
    assert (out / "arm_mpc.h").is_file() and (out / "arm_qp.c").is_file()
    plot = tmp_path / "arm.png"
    code = main(["simulate", str(out), "--x0", "0,0", "--steps", "60", "--noise", "0.001,0.001",
                 "--plant-p", "10.5,0.25", "--plot", str(plot)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "inputs within [u_lo, u_hi] at every step: yes" in text
    assert "final state error vs x_ref: max" in text
    error = float(text.split("final state error vs x_ref: max ")[1].split()[0])
    assert error < 0.05  # reaches 0.4 rad despite 7 % model mismatch and noise
    assert plot.is_file() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_without_initial_state_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mpcgen.cli import main

    source = ROOT / "tests" / "data" / "user_mpc.py"
    out = tmp_path / "arm"
    assert main(["generate", f"{source}:arm", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["simulate", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--x0" in err[0]
    assert main(["simulate", str(out), "--x0", "1,2,3"]) == 2
    assert "expected 2 numbers" in capsys.readouterr().err


def test_more_inputs_than_states_under_sanitizers(tmp_path: Path) -> None:
    """nu > nx (a tank with three valves): solve and step run clean under ASan and UBSan."""
    import shutil

    cc = shutil.which("gcc") or shutil.which("clang")
    source = ROOT / "tests" / "data" / "user_mpc.py"
    folder = mpcgen.generate(f"{source}:tank", tmp_path / "tank")
    driver = tmp_path / "driver.c"
    driver.write_text(
        '#include <stdio.h>\n#include "tank_mpc.h"\n'
        "int main(void) {\n"
        "    tank_real x[1] = {0.3}, u[3];\n    int k, status;\n"
        "    tank_mpc_init();\n    tank_mpc_set_initial_guess(x);\n"
        "    status = tank_mpc_solve(x, u);\n"
        '    if (status != TANK_MPC_OK) { printf("solve %d\\n", status); return 1; }\n'
        "    tank_mpc_prepare();\n"
        "    for (k = 0; k < 50; ++k) {\n"
        "        status = tank_mpc_step(x, u);\n"
        "        if (status != TANK_MPC_OK && status != TANK_MPC_MAX_ITER) { printf(\"step %d\\n\", status); return 1; }\n"
        "        x[0] += 0.1 * (u[0] + u[1] + u[2] - 0.5 * 1.0);\n"
        "    }\n"
        '    printf("%.6f %.6f %.6f %.6f\\n", x[0], u[0], u[1], u[2]);\n    return 0;\n}\n')
    exe = tmp_path / "driver"
    sources = [str(driver)] + [str(folder / f"tank{s}.c") for s in ("", "_qp", "_mpc")]
    build = subprocess.run([cc, "-std=c99", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                            "-I", str(folder), *sources, "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    u = [float(v) for v in run.stdout.split()[1:]]
    assert all(0.0 <= v <= 1.0 for v in u)


def test_solve_recovers_from_a_bad_state_without_a_new_guess(folders: dict[str, Path]) -> None:
    ctrl = mpcgen.load(folders["cstr"])
    ex, model, options, ocp = example_problem("cstr")
    x0 = np.array(ex.scenario(model).x0)
    bad = x0.copy()
    bad[2] = 1e30
    ctrl.set_initial_guess(x0)
    ctrl.prepare()
    ctrl.feedback(bad)
    assert ctrl.last_status != "ok"
    u = ctrl.solve(x0)
    assert ctrl.last_status == "ok", ctrl.stats
    assert ((u >= ocp.u_lo) & (u <= ocp.u_hi)).all()


def test_no_controller_flag_generates_the_model_only(tmp_path: Path) -> None:
    from mpcgen.cli import main

    assert main(["generate", "pendulum", "-o", str(tmp_path / "p"), "--no-controller"]) == 0
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert "pendulum.c" in names and not any("_mpc" in n or "_qp" in n for n in names)
    with pytest.raises(mpcgen.MpcgenError, match="no controller"):
        mpcgen.load(tmp_path / "p")


def test_stage_weights_change_one_stage(folders: dict[str, Path]) -> None:
    """A heavy weight on one stage's cart position pulls the plan's position there toward x_ref."""
    ctrl = mpcgen.load(folders["pendulum"])
    x = np.array([0.5, 0.0, 0.0, 0.0])
    ctrl.configure(sqp_max_iter=50)
    ctrl.set_initial_guess(x)
    ctrl.solve(x)
    before = ctrl.trajectory()[0][5, 0]
    ctrl.set_weights(Q=[1e6, 2e3, 2e-2, 2e-2], stage=5)
    ctrl.solve(x)
    after = ctrl.trajectory()[0][5, 0]
    assert abs(after) < 0.5 * abs(before)
    with pytest.raises(EvaluationError, match="stage 20 is not one of 0..19"):
        ctrl.set_weights(Q=[1.0] * 4, stage=20)
    with pytest.raises(EvaluationError, match="terminal"):
        ctrl.set_weights(P=[1.0] * 4, stage=3)


def test_horizon_option_replaces_the_ocp_horizon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mpcgen.cli import main

    assert main(["generate", "pendulum", "-o", str(tmp_path / "p10"), "--horizon", "10"]) == 0
    assert "#define PENDULUM_MPC_N 10 " in (tmp_path / "p10" / "pendulum_mpc.h").read_text()
    ctrl = mpcgen.load(tmp_path / "p10")
    assert ctrl.N == 10 and ctrl.trajectory()[1].shape == (10, 1)
    capsys.readouterr()
    assert main(["generate", "pendulum", "-o", str(tmp_path / "p0"), "--horizon", "0"]) == 2
    assert "horizon N must be an integer from 1 to 1000" in capsys.readouterr().err
    assert main(["generate", "pendulum", "-o", str(tmp_path / "pm"), "--horizon", "5", "--no-controller"]) == 2
    assert "--horizon needs an OCP" in capsys.readouterr().err


@pytest.mark.slow
def test_float_steady_state_needs_one_qp_iteration_per_step(tmp_path: Path) -> None:
    """The warm-start floors: once the quadrotor hovers at its new reference, each real-time
    iteration's QP converges in one interior-point iteration (with every floor at 1e-3 it
    took two: an inactive soft row's s * nu started above the float tolerance)."""
    from mpcgen.runs.closed_loop import run_closed_loop

    folder = mpcgen.generate("quadrotor", tmp_path / "quadrotor", precision="float", horizon=10)
    run = run_closed_loop(folder, steps=150)
    assert set(run.statuses) == {"ok"}
    settled = run.qp_iterations[100:]
    assert np.median(settled) == 1 and settled.max() <= 2
