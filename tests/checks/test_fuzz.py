"""Reliability of the generated controllers under bad input and faults (issue 5).

Facts checked on the compiled C of every example's controller:
- Fuzzing (libFuzzer, clang -fsanitize=address,undefined, every report fatal): random,
  extreme (+-1e300, denormals), NaN and Inf states, references, parameters, weights and
  settings over sequences of calls: no crash, no sanitizer report, the control always
  finite and within its bounds, a status that says what happened. A bounded run here
  (a few seconds per example); ``mpcgen fuzz DIR --seconds S`` runs longer.
- The harness has teeth: a controller that stops rejecting NaN states, or writes one
  past the caller's array, is caught within seconds, with a reproducer.
- valgrind memcheck is clean over a closed loop and over fuzz inputs.
- Recovery: after a run of bad inputs (NaN, Inf, huge states, absurd parameters), or a
  QP stopped at its iteration cap, good inputs bring the controller back: status OK
  and the control of the undisturbed run within a few steps.
- The fuzzer's findings stay fixed: no NaN in the statistics of the two CSTR reproducers.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import example_problem

import mpcgen
from mpcgen.checks.fuzz import build_fuzzer, fuzz, memcheck, replay
from mpcgen.errors import EvaluationError
from mpcgen.problem.examples import EXAMPLES
from mpcgen.runs.simulate import simulate_scenario

NAMES = [name for name, ex in EXAMPLES.items() if ex.ocp is not None]
#: fuzzing time per example in the test suite (the builds add 2-12 s each)
SECONDS = 4.0


def _libfuzzer_works() -> str | None:
    """Why the fuzz tests cannot run here, or None."""
    if shutil.which("clang") is None:
        return "clang is not installed (make tools installs it)"
    probe = subprocess.run(["clang", "-fsanitize=fuzzer", "-x", "c", "-", "-o", "/dev/null"], input=(
        "#include <stdint.h>\n#include <stddef.h>\n"
        "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n"),
        capture_output=True, text=True)
    return None if probe.returncode == 0 else "clang has no libFuzzer runtime (make tools installs it)"


needs_libfuzzer = pytest.mark.skipif(_libfuzzer_works() is not None, reason=str(_libfuzzer_works()))


@pytest.mark.slow
@needs_libfuzzer
@pytest.mark.parametrize("name", NAMES)
def test_fuzzing_finds_no_failure(folders: dict[str, Path], name: str, tmp_path: Path) -> None:
    result = fuzz(folders[name], seconds=SECONDS, seed=1, artifacts=tmp_path)
    assert result.passed, f"{result.report}\nreproducer: {result.crash}"
    assert result.runs > 0 and result.coverage > 100


def _no_state_check(text: str) -> str:
    return text.replace("if (!finite(x0, NX)) {\n        status =", "if (0) {\n        status =", 1)


def _write_past_the_end(text: str) -> str:
    return text.replace("u0[i] = clamp(mem.u[0][i], U_LO(0, i), U_HI(0, i));",
                        "u0[i] = clamp(mem.u[0][i], U_LO(0, i), U_HI(0, i));\n        if (mem.u[0][i] < 0.0) u0[NU] = 0.0;")


@pytest.mark.slow
@needs_libfuzzer
@pytest.mark.parametrize(("bug", "finding"), [(_no_state_check, "NONFINITE_INPUT"),
                                              (_write_past_the_end, "AddressSanitizer")])
def test_the_fuzzer_catches_a_planted_bug(folders: dict[str, Path], tmp_path: Path, bug, finding: str) -> None:
    folder = tmp_path / "pendulum"
    shutil.copytree(folders["pendulum"], folder)
    source = folder / "pendulum_mpc.c"
    planted = bug(source.read_text())
    assert planted != source.read_text()
    source.write_text(planted)
    result = fuzz(folder, seconds=30, seed=1, artifacts=tmp_path / "crashes")
    assert not result.passed and finding in result.report, result.report
    assert result.crash is not None and result.crash.is_file()
    code, trace = replay(folder, [result.crash])  # the reproducer replays without libFuzzer (or ASan)
    assert "step" in trace or "feedback" in trace or "solve" in trace
    assert code != 0 or finding == "AddressSanitizer"


@pytest.mark.slow
@needs_libfuzzer
def test_valgrind_memcheck_is_clean(folders: dict[str, Path], tmp_path: Path) -> None:
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    corpus = tmp_path / "corpus"
    fuzz(folders["pendulum"], seconds=2, seed=2, corpus=corpus, artifacts=tmp_path)
    inputs = sorted(p for p in corpus.iterdir() if p.is_file())[:40]
    result = memcheck(folders["pendulum"], steps=150, inputs=inputs)
    assert result.steps == 150 and result.inputs == len(inputs) > 0
    assert result.passed, result.log[-3000:]


# -- recovery ---------------------------------------------------------------------------

def _reference_run(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Measured states and controls of the undisturbed closed loop of the scenario."""
    ex, model, _, ocp = example_problem(name)
    scenario = ex.scenario(model)
    ctrl = mpcgen.load(folder)
    ctrl.start(scenario.x0)
    run = simulate_scenario(model, ctrl.step, scenario, ex.ts)
    return run.X[:-1], run.U


def _replay(folder: Path, name: str, X: np.ndarray, disturb, at: int, length: int) -> tuple[list[str], np.ndarray]:
    """Replay the recorded states; at steps at..at+length-1 call ``disturb(ctrl, k, x)`` instead."""
    ex, model, _, ocp = example_problem(name)
    ctrl = mpcgen.load(folder)
    ctrl.start(X[0])
    statuses, U = [], []
    for k, x in enumerate(X):
        u = disturb(ctrl, k, x) if at <= k < at + length else ctrl.step(x)
        assert np.isfinite(u).all() and (u >= ocp.u_lo).all() and (u <= ocp.u_hi).all(), (k, u)
        statuses.append(ctrl.last_status)
        U.append(u)
    return statuses, np.array(U)


def _bad_inputs(ocp):
    nominal_p = np.array([v.nominal_value for v in ocp.model.parameters])

    def disturb(ctrl, k: int, x: np.ndarray) -> np.ndarray:
        kind = k % 5
        if kind == 0:
            return ctrl.step(np.full_like(x, np.nan))
        if kind == 1:
            bad = x.copy()
            bad[-1] = np.inf
            return ctrl.step(bad)
        if kind == 2:
            return ctrl.step(np.where(np.arange(x.size) % 2 == 0, 1e300, -1e300))
        if kind == 3:  # absurd parameters for one sample, then the real ones again
            ctrl.set_p(np.full(nominal_p.size, 1e300))
            u = ctrl.step(x)
            ctrl.set_p(nominal_p)
            return u
        return ctrl.step(np.full_like(x, 5e-324))  # denormal state
    return disturb


#: Steps after the last bad input within which the controls are the undisturbed loop's again
#: (to 1e-3 of the input range). A real-time step does one interior-point iteration: the
#: plan re-converges over steps (measured: the CSTR in 28, the quadrotor and the chain in
#: 16, then to 1e-8), where a QP solved to convergence at every step took under 8.
RECOVERY_STEPS = 30


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_good_inputs_after_bad_ones_recover(folders: dict[str, Path], name: str) -> None:
    _, _, _, ocp = example_problem(name)
    X, U_ref = _reference_run(folders[name], name)
    at, length = len(X) // 3, 5
    statuses, U = _replay(folders[name], name, X, _bad_inputs(ocp), at, length)
    assert "nonfinite_input" in statuses[at:at + length]
    back = at + length + RECOVERY_STEPS
    assert all(s == "ok" for s in statuses[back:]), statuses[at:]
    width = ocp.u_hi - ocp.u_lo
    assert (np.abs(U[back:] - U_ref[back:]) <= 1e-3 * width).all(), np.abs(U[back:] - U_ref[back:]).max(axis=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_qp_iteration_cap_gives_a_safe_control_then_recovers(folders: dict[str, Path], name: str) -> None:
    _, _, _, ocp = example_problem(name)
    X, U_ref = _reference_run(folders[name], name)
    at, length = len(X) // 3, 3

    def capped(ctrl, k: int, x: np.ndarray) -> np.ndarray:
        # the cap binds solve (the real-time step's work is fixed by rt_iterations instead)
        default = ctrl.settings["qp_max_iter"]
        ctrl.configure(qp_max_iter=1)
        u = ctrl.solve(x)
        # capped (its best iterate) or, from a start it cannot improve in one step, a failure
        assert ctrl.last_status in ("max_iter", "qp_failure") and ctrl.stats["qp_iterations"] <= 1
        ctrl.configure(qp_max_iter=default)
        return u

    statuses, U = _replay(folders[name], name, X, capped, at, length)
    back = at + length + RECOVERY_STEPS
    assert all(s == "ok" for s in statuses[back:]), statuses[at:]
    width = ocp.u_hi - ocp.u_lo
    assert (np.abs(U[back:] - U_ref[back:]) <= 1e-3 * width).all(), np.abs(U[back:] - U_ref[back:]).max(axis=0)


def test_indefinite_weight_is_refused_and_the_loop_goes_on(folders: dict[str, Path]) -> None:
    """An indefinite input weight (R < 0) would make the QP non-convex: the setter refuses it
    (BAD_ARGUMENT, said) and the closed loop goes on exactly as without the call."""
    ex, model, _, ocp = example_problem("pendulum")
    X, U_ref = _reference_run(folders["pendulum"], "pendulum")
    at = len(X) // 3
    ctrl = mpcgen.load(folders["pendulum"])
    ctrl.start(X[0])
    for x in X[:at]:
        ctrl.step(x)
    with pytest.raises(EvaluationError, match="R is not positive semidefinite"):
        ctrl.set_weights(R=[[-1e6]])
    statuses = []
    for x in X[at:]:
        u = ctrl.step(x)
        statuses.append(ctrl.last_status)
    assert all(s == "ok" for s in statuses)
    assert abs(u[0] - U_ref[-1, 0]) <= 1e-3 * (ocp.u_hi[0] - ocp.u_lo[0])


def test_cost_statistic_is_never_nan(folders: dict[str, Path]) -> None:
    """Found by the fuzzer on the CSTR: one step from a state inside the model's ranges leaves a
    terminal state of 1e212, and 1/2 r'Pr summed term by term gave +Inf - Inf."""
    ctrl = mpcgen.load(folders["cstr"])
    ctrl.step([1.7924528301886793, 121.5, 106.41509433962264, 103.36477987421384])
    assert ctrl.last_status in ("ok", "max_iter")
    assert not math.isnan(ctrl.stats["cost"])


def test_qp_statistics_are_never_nan(folders: dict[str, Path]) -> None:
    """Found by the fuzzer on the CSTR: step, solve from far outside the ranges, step; the QP
    fails at its start point, whose mu was NaN."""
    ctrl = mpcgen.load(folders["cstr"])
    ctrl.configure(sqp_max_iter=8)
    ctrl.step([1.0377358490566038, 121.5, 114.71698113207547, 95.440251572327043])
    ctrl.solve([304.0, 0.88867924528301878, 70.0, 95.0])
    u = ctrl.step([1.0, 0.42830188679245285, 100.0, 95.0])
    assert np.isfinite(u).all()
    assert not any(math.isnan(ctrl.stats[k]) for k in ("res_stat", "res_eq", "res_ineq", "mu", "cost", "step"))


def test_fuzz_cli_replays_a_reproducer(folders: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from mpcgen.cli import main

    build_fuzzer(folders["pendulum"], standalone=True)
    data = tmp_path / "input"
    data.write_bytes(bytes([0, 10, 20, 30, 40, 1, 164, 0, 0, 0, 4, 13]))  # step, feedback(NaN ...), prepare, check
    assert main(["fuzz", str(folders["pendulum"]), "--replay", str(data)]) == 0
    out = capsys.readouterr().out
    assert "step -> 0" in out and "feedback -> 3" in out and "prepare -> 0" in out
