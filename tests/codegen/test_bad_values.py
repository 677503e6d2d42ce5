"""The gallery of bad values at run time: each gets a clear error or status from the shipped
controller, never a silently changed control. The plant is the user's crane
(tests/data/crane), whose model divides by the rope length.

The setters' checks are the generated C's (the binding raises only when the C function
returned BAD_ARGUMENT or NONFINITE_INPUT, then says why); a rejected value leaves the
controller as it was, which each case confirms by solving again from the same state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, assert_rejected_without_change

import mpcgen
from mpcgen.errors import EvaluationError

CRANE = ROOT / "tests" / "data" / "crane"
START = np.array([0.0, 0.0, 1.5, 0.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def crane(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("crane")
    return {precision: mpcgen.generate(f"{CRANE / 'crane.py'}:crane", root / precision, precision=precision)
            for precision in ("double", "float")}


#: (setter call on a Controller, the message it must raise)
GALLERY = [
    (lambda c: c.set_weights(R=np.array([[1.0, 0.5], [0.0, 1.0]])),
     "R is not symmetric (R[0,1] = 0.5 but R[1,0] = 0)"),
    (lambda c: c.set_weights(Q=[1.0, -1.0, 1.0, 1.0, 1.0, 1.0]),
     "Q is not positive semidefinite (smallest eigenvalue -1)"),
    (lambda c: c.set_weights(P=-np.eye(6)), "P is not positive semidefinite"),
    (lambda c: c.set_weights(Q=np.full(6, 1e300)), "Q[0,0] = 1e+300 is beyond"),
    (lambda c: c.set_weights(R=[1.0, 1e-3], stage=3) or c.set_weights(R=[1.0, -1e-3], stage=4),
     "R is not positive semidefinite"),
    (lambda c: c.set_weights(Q=np.ones((6, 6))),   # PSD, but entries where the OCP's Q had zeros
     "a nonzero entry where the OCP's weight had a structural zero"),
    (lambda c: c.set_weights(Q=np.ones(6), stage=30), "stage 30 is not one of 0..29"),
    (lambda c: c.set_x_ref([1e300, 0, 1, 0, 0, 0]), "x_ref[0] = 1e+300 is beyond"),
    (lambda c: c.set_x_ref([np.nan, 0, 1, 0, 0, 0]), "x_ref has NaN or Inf at index 0"),
    (lambda c: c.set_x_ref([0, 0, 1, 0, 0, 0], stage=31), "stage 31 is not one of 0..30"),
    (lambda c: c.set_u_ref([np.inf, 0]), "u_ref has NaN or Inf at index 0"),
    (lambda c: c.set_x_ref_trajectory(np.zeros((30, 6))), "X_ref ((N+1) x nx) has 180 entries, the controller needs 186"),
    (lambda c: c.set_x_ref_trajectory(np.vstack([np.zeros((3, 6)), np.full((28, 6), np.nan)])),
     "X_ref has NaN or Inf at stage 3"),
    (lambda c: c.set_x_ref_trajectory(np.full((31, 6), 1e300)), "X_ref[0] = 1e+300 is beyond"),
    (lambda c: c.step(None), "x0 must be 6 numbers (a list or numpy array), got NoneType"),
    (lambda c: c.step("abc"), "x0 must be 6 numbers (a list or numpy array), got str"),
    (lambda c: c.step([1.0, 2.0]), "x0 has 2 entries, the controller needs 6"),
]


@pytest.mark.parametrize("call, message", GALLERY, ids=[m.split(" (")[0][:40] for _, m in GALLERY])
def test_bad_value_is_rejected_and_changes_nothing(crane: dict[str, Path], call, message: str) -> None:
    assert_rejected_without_change(mpcgen.load(crane["double"]), call, message, START)


def test_float_controller_limits_weights_tighter(crane: dict[str, Path]) -> None:
    """In float, 1e20 (fine in double) would overflow the QP's products: rejected, said."""
    ctrl = mpcgen.load(crane["float"])
    with pytest.raises(EvaluationError, match=r"Q\[0,0\] = 1e\+20 is beyond 1e\+10"):
        ctrl.set_weights(Q=np.full(6, 1e20))
    with pytest.raises(EvaluationError, match="not positive semidefinite"):
        ctrl.set_weights(Q=[1.0, -1e-3, 1.0, 1.0, 1.0, 1.0])
    ctrl.set_weights(Q=np.full(6, 1e9))   # within the limit


def test_state_where_the_model_divides_by_zero_is_a_model_failure(crane: dict[str, Path]) -> None:
    """A rope of length 0: the plan's linearization (taken elsewhere) does not see it, the
    check of the model at the measured state does. The control is still within its bounds,
    and the controller recovers at the next valid state."""
    ctrl = mpcgen.load(crane["double"])
    ctrl.start(START)
    ctrl.step(START)
    assert ctrl.last_status == "ok"
    u = ctrl.step([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert ctrl.last_status == "model_failure"
    assert np.isfinite(u).all() and (np.abs(u) <= [3.0, 1.0]).all()
    ctrl.step(START)   # the safe control, the guess restarted from this state
    statuses = []
    for _ in range(3):
        ctrl.step(START)
        statuses.append(ctrl.last_status)
    assert statuses == ["ok"] * 3


def test_reference_trajectory_in_one_call_equals_stage_by_stage(crane: dict[str, Path]) -> None:
    ctrl = mpcgen.load(crane["double"])
    X_ref = np.zeros((31, 6))
    X_ref[:, 0] = np.linspace(0.0, 1.0, 31)
    X_ref[:, 2] = 1.2
    for k in range(31):
        ctrl.set_x_ref(X_ref[k], stage=k)
    ctrl.set_initial_guess(START)
    by_stage = ctrl.solve(START)
    ctrl.set_x_ref(np.zeros(6))
    ctrl.set_x_ref_trajectory(X_ref)
    ctrl.set_initial_guess(START)
    np.testing.assert_allclose(ctrl.solve(START), by_stage, rtol=1e-12, atol=1e-12)
    assert not np.allclose(by_stage, ctrl.solve(START) * 0)   # a reference that moves the cart


@pytest.mark.parametrize("precision", ["double", "float"])
def test_example_main_runs_from_the_scenario_state(crane: dict[str, Path], tmp_path: Path, precision: str) -> None:
    """The crane's all-zero state divides by zero (a rope of length 0): example_main.c starts
    from the scenario's initial state instead, states its rate from Ts, compiles strictly
    with gcc and clang, reports the statuses and carries the load to the OCP's reference."""
    import subprocess

    from conftest import compilers

    folder = crane[precision]
    text = (folder / "example_main.c").read_text()
    assert "one step every\n * Ts = 0.05 s (20 Hz)" in text and "1 kHz" not in text
    assert "x_start[CRANE_NX] = {0.0" in text and "the scenario's initial state" in text
    sources = [str(folder / n) for n in ("example_main.c", "crane.c", "crane_mpc.c", "crane_qp.c")]
    strict = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-Wconversion", "-Wshadow",
              "-Wdouble-promotion"]
    for cc in compilers():
        exe = tmp_path / f"example-{cc}"
        subprocess.run([cc, *strict, "-O2", "-DEXAMPLE_STEPS=120", *sources, "-lm", "-o", str(exe)], check=True)
        run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        last = run.stdout.strip().splitlines()[-1]
        assert last.startswith("120 samples of 0.05 s; last state:"), run.stdout
        state = np.array([float(v) for v in last.split(":")[1].split()])
        np.testing.assert_allclose(state[[0, 2]], [1.0, 1.0], atol=0.05)   # xc and the rope at the reference
        assert "returned" not in run.stdout   # every status OK on the way
