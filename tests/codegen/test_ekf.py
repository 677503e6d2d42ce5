"""The generated EKF, compiled through cffi: against filterpy, consistency, float, bad data.

The filter under test is the C in generated/ (double) and a float folder generated here;
the references are independent of it: filterpy's ExtendedKalmanFilter (joint update,
matrix inverse, Joseph form) driven by CasADi's own F, A, h and H, and the chi-square
distribution of NEES and NIS for a consistent filter.
"""

from __future__ import annotations

import shutil

import casadi as ca
import numpy as np
import pytest
from conftest import ROOT
from filterpy.kalman import ExtendedKalmanFilter
from scipy.stats import chi2

import mpcgen
from mpcgen.checks.verification import verify
from mpcgen.derivatives.jacobians import reference_function
from mpcgen.problem.examples import get_example
from mpcgen.problem.options import CodegenOptions

GENERATED = ROOT / "generated"


class _Plant:
    """CasADi's side: F, A, h, H of an example, and noise from its declared levels."""

    def __init__(self, name: str):
        example, self.model = get_example(name)
        m = self.model
        self.ref = reference_function(m, CodegenOptions(ts=example.ts))
        self.h = ca.Function("h", [m.x, m.u, m.p], [m.y, ca.jacobian(m.y, m.x)])
        self.p = np.array([v.nominal_value for v in m.parameters])
        self.Q, self.R = np.array(m.process_noise), np.array(m.measurement_noise)
        self.u0 = np.array([v.nominal_value for v in m.inputs])
        self.Fmap = {}

    def F(self, x, u):
        return np.array(self.ref(x, u, self.p)[0]).ravel()

    def A(self, x, u):
        return np.array(self.ref(x, u, self.p)[1])

    def hx(self, x, u):
        return np.array(self.h(x, u, self.p)[0]).ravel()

    def H(self, x, u):
        return np.array(self.h(x, u, self.p)[1])

    def F_many(self, X, U):
        """F of each column of X (nx x M) with the inputs U (nu x M)."""
        M = X.shape[1]
        if M not in self.Fmap:
            m = self.model
            self.Fmap[M] = ca.Function("F", [m.x, m.u, m.p], [self.ref(m.x, m.u, m.p)[0]]).map(M)
        return self.Fmap[M](X, U, np.repeat(self.p[:, None], M, axis=1)).full()


def _start(name: str):
    x0 = {"pendulum": [0.0, np.pi, 0.0, 0.0]}.get(name)
    plant = _Plant(name)
    x0 = np.zeros(plant.model.nx) if x0 is None else np.array(x0)
    P0 = np.diag((0.02 * np.array([(v.hi - v.lo) / 2 for v in plant.model.states])) ** 2)
    return plant, x0, P0


def _inputs(plant: _Plant, rng, steps: int) -> np.ndarray:
    widths = np.array([v.hi - v.lo for v in plant.model.inputs])
    return plant.u0 + 0.02 * widths * rng.standard_normal((steps, plant.model.nu))


@pytest.mark.parametrize("name", ["pendulum", "quadrotor"])
def test_the_generated_ekf_agrees_with_filterpy_to_1e_10(name: str) -> None:
    plant, x0, P0 = _start(name)
    ekf = mpcgen.load_ekf(GENERATED / name)
    assert ekf.init(x0, P0) == "ok" and ekf.set_gate(0.0) == "ok"   # filterpy does not gate
    ref = ExtendedKalmanFilter(plant.model.nx, plant.model.ny)
    ref.x, ref.P, ref.Q, ref.R = x0.copy(), P0.copy(), plant.Q, plant.R
    rng = np.random.default_rng(1)
    U = _inputs(plant, rng, 100)
    x = x0 + np.sqrt(np.diag(P0)) * rng.standard_normal(plant.model.nx)
    worst_x = worst_P = worst_nis = 0.0
    for u in U:
        y = plant.hx(x, u) + np.sqrt(np.diag(plant.R)) * rng.standard_normal(plant.model.ny)
        assert ekf.update(y, u) == "ok"
        ref.update(y, lambda xx: plant.H(xx, u), lambda xx: plant.hx(xx, u))
        nis_ref = float(ref.y @ ref.SI @ ref.y)
        worst_nis = max(worst_nis, abs(ekf.stats["nis"].sum() - nis_ref) / nis_ref)
        xe, Pe = ekf.state()
        worst_x = max(worst_x, np.max(np.abs(xe - ref.x) / np.maximum(1.0, np.abs(ref.x))))
        worst_P = max(worst_P, np.max(np.abs(Pe - ref.P)) / np.max(np.abs(ref.P)))
        assert ekf.predict(u) == "ok"
        ref.F = plant.A(ref.x, u)
        ref.predict_x = lambda _ignored: setattr(ref, "x", plant.F(ref.x, u))   # filterpy's hook for a nonlinear F
        ref.predict()
        x = plant.F(x, u) + np.linalg.cholesky(plant.Q) @ rng.standard_normal(plant.model.nx)
    print(f"{name}: largest relative difference to filterpy over 100 steps: x {worst_x:.1e}, P {worst_P:.1e}, "
          f"NIS {worst_nis:.1e}")
    assert worst_x < 1e-10 and worst_P < 1e-10 and worst_nis < 1e-10, (worst_x, worst_P, worst_nis)


@pytest.mark.parametrize("name", ["pendulum", "quadrotor"])
def test_nees_and_nis_averaged_over_100_runs_are_chi_square_consistent(name: str) -> None:
    plant, x0, P0 = _start(name)
    nx, ny = plant.model.nx, plant.model.ny
    ekf = mpcgen.load_ekf(GENERATED / name)
    runs, steps = 100, 40
    rng = np.random.default_rng(7)
    X = x0[:, None] + np.linalg.cholesky(P0) @ rng.standard_normal((nx, runs))   # the true states
    U = _inputs(plant, rng, steps)
    Lq, Lr = np.linalg.cholesky(plant.Q), np.sqrt(np.diag(plant.R))
    nees, nis = np.zeros((steps, runs)), np.zeros((steps, runs))
    estimates = [x0.copy() for _ in range(runs)]
    covariances = [P0.copy() for _ in range(runs)]
    for k, u in enumerate(U):
        Y = np.array([plant.hx(X[:, j], u) for j in range(runs)]) + Lr * rng.standard_normal((runs, ny))
        for j in range(runs):   # one filter in static memory: each run resumes from its own estimate
            assert ekf.init(estimates[j], covariances[j]) == "ok"
            ekf.set_gate(0.0)
            assert ekf.update(Y[j], u) == "ok"
            nis[k, j] = ekf.stats["nis"].sum()
            xe, Pe = ekf.state()
            e = X[:, j] - xe
            nees[k, j] = e @ np.linalg.solve(Pe, e)
            assert ekf.predict(u) == "ok"
            estimates[j], covariances[j] = ekf.state()
            covariances[j] = 0.5 * (covariances[j] + covariances[j].T)
        X = plant.F_many(X, np.repeat(u[:, None], runs, axis=1)) + Lq @ rng.standard_normal((nx, runs))
    for value, dof in ((nees, nx), (nis, ny)):
        # the average over the runs of a consistent filter's NEES (NIS) at one step is
        # chi-square with runs * dof degrees of freedom, divided by runs
        lo, hi = chi2.ppf([0.025, 0.975], runs * dof) / runs
        average = value.mean(axis=1)
        inside = np.mean((average >= lo) & (average <= hi))
        print(f"{name} dof {dof}: interval [{lo:.3f}, {hi:.3f}], average over runs and steps {average.mean():.3f}, "
              f"steps inside {100 * inside:.0f} %")
        assert lo <= average.mean() <= hi
        # 95 % of the steps expected; the steps share their runs, so the fraction moves more
        # than independent draws would (its standard deviation over seeds is about 8 %)
        assert inside >= 0.75, (dof, inside, average)


@pytest.mark.parametrize("spec", ["pendulum", "precise"])
def test_float_stays_within_1e_3_of_double_and_positive_definite_over_10000_steps(tmp_path, spec: str) -> None:
    """The example's sensors, and 500 times finer ones (tests/data/precise_encoders.py): there the
    expanded Joseph form P - K a^T - a K^T + s K K^T and the standard form P - K a^T lost
    definiteness in float at 2 of the 10^4 updates; the generated two-stage form does not."""
    source = "pendulum" if spec == "pendulum" else f"{ROOT / 'tests' / 'data' / 'precise_encoders.py'}:precise"
    plant, x0, P0 = _start("pendulum")
    if spec == "precise":
        plant.R = np.diag([1e-10, 1e-10])
    fl = mpcgen.load_ekf(mpcgen.generate(source, tmp_path / "float", precision="float"))
    db = mpcgen.load_ekf(GENERATED / "pendulum" if spec == "pendulum" else mpcgen.generate(source, tmp_path / "d"))
    rng = np.random.default_rng(3)
    steps = 10_000
    U = _inputs(plant, rng, steps)
    x = x0.copy()
    Lq, Lr = np.linalg.cholesky(plant.Q), np.sqrt(np.diag(plant.R))
    Y = np.zeros((steps, plant.model.ny))
    for k in range(steps):   # the truth first (CasADi), then both filters on the same data
        U[k] -= 10.0 * x[0] + 10.0 * x[2]   # a PD loop on the cart keeps it inside its declared range
        Y[k] = plant.hx(x, U[k]) + Lr * rng.standard_normal(plant.model.ny)
        x = plant.F(x, U[k]) + Lq @ rng.standard_normal(plant.model.nx)
        assert abs(x[0]) < 2.0
    scale = np.array([(v.hi - v.lo) / 2 for v in plant.model.states])
    worst, smallest = 0.0, np.inf
    states = {}
    for label, ekf in (("double", db), ("float", fl)):
        assert ekf.init(x0, P0) == "ok"
        trace = np.zeros((steps, plant.model.nx))
        for k, u in enumerate(U):
            assert ekf.update(Y[k], u) in ("ok", "rejected")
            xe, Pe = ekf.state()      # after the update: the smallest variances
            trace[k] = xe
            if label == "float":
                smallest = min(smallest, np.linalg.eigvalsh(Pe)[0])
            assert ekf.predict(u) == "ok"
        states[label] = trace
    worst = np.max(np.abs(states["float"] - states["double"]) / scale)   # of each state's half range
    print(f"{spec}: float - double: largest {worst:.2e} of the half range; smallest eigenvalue of float P {smallest:.3e}")
    assert worst < 1e-3, worst
    assert smallest > 0, smallest


def test_bad_measurements_and_arguments_give_a_status_and_never_a_nan_state(tmp_path) -> None:
    plant, x0, P0 = _start("pendulum")
    for folder in (GENERATED / "pendulum", mpcgen.generate("pendulum", tmp_path / "f", precision="float")):
        ekf = mpcgen.load_ekf(folder)
        u = plant.u0
        assert ekf.init(x0, P0) == "ok"
        before = ekf.state()
        assert ekf.update([np.nan, np.inf], u) == "rejected"
        assert not ekf.stats["accepted"].any() and np.array_equal(ekf.state()[0], before[0])
        assert ekf.update([0.0, 1e300], u) == "rejected"                  # the gate keeps 1e300 out
        assert list(ekf.stats["accepted"]) == [True, False]
        assert ekf.predict([np.nan]) == "nonfinite_input"
        assert ekf.init(x0, -P0) == "bad_argument" and ekf.init(x0, P0 * np.nan) == "nonfinite_input"
        assert ekf.init([np.nan] * 4) == "nonfinite_input" and ekf.set_gate(np.nan) == "bad_argument"
        huge = 1e300 if ekf.dtype == np.float64 else 1e30   # (1e300 is Inf in float: rejected above)
        assert ekf.init(x0, np.eye(4) * huge) == "ok"                     # a huge, "singular" innovation
        ekf.set_gate(0.0)
        assert ekf.update([0.0, 3.0], u) in ("ok", "rejected", "model_failure")
        assert ekf.update([huge, -huge], u) in ("ok", "rejected", "model_failure")
        for _ in range(3):
            ekf.predict(u)
        x, P = ekf.state()
        assert np.isfinite(x).all() and np.isfinite(P).all()


def test_a_wrong_jacobian_of_h_is_caught_by_verify(tmp_path) -> None:
    folder = tmp_path / "pendulum"
    shutil.copytree(GENERATED / "pendulum", folder)
    header = folder / "pendulum_ekf.h"
    text = header.read_text()
    assert text.count("    Jx[5] = 1.0;") == 1
    header.write_text(text.replace("    Jx[5] = 1.0;", "    Jx[5] = 1.001;"))
    report = verify(folder, points=2)
    assert not report.passed
    failing = {(r.function, r.output, r.method) for r in report.rows if not r.passed}
    assert {("pendulum_ekf_h", "Jx", m) for m in ("casadi", "central", "complex")} <= failing


@pytest.mark.parametrize("spec", ["user_sensors.py:swing", "correlated_sensors.py:correlated"])
def test_a_model_file_with_a_nonlinear_sensor_and_a_bias_state(tmp_path, spec: str) -> None:
    """tests/data/user_sensors.py (the README's example): h is verified, and the EKF, which has no
    controller beside it, tracks the angle and learns the camera's bias as filterpy does; also with
    correlated sensor noise, which the generated filter whitens (filterpy uses the full R)."""
    source = f"{ROOT / 'tests' / 'data' / spec}"
    name = spec.rpartition(":")[2]
    folder = mpcgen.generate(source, tmp_path / name)
    assert (folder / f"{name}_ekf.c").is_file() and not (folder / f"{name}_mpc.c").exists()
    report = verify(folder, points=5)
    assert report.passed and any(r.function == f"{name}_ekf_h" for r in report.rows)
    from mpcgen.problem.source import load_source

    m = load_source(source).model
    F = ca.Function("F", [m.x, m.u, m.p], list(reference_function(m, CodegenOptions(ts=0.02))(m.x, m.u, m.p))[:2])
    h = ca.Function("h", [m.x, m.u, m.p], [m.y, ca.jacobian(m.y, m.x)])
    ekf = mpcgen.load_ekf(folder)
    P0 = np.diag([0.1, 0.3, 0.05]) ** 2
    x_hat0 = np.array([0.5, 0.0, 0.0])
    assert ekf.init(x_hat0, P0) == "ok" and ekf.set_gate(0.0) == "ok"
    ref = ExtendedKalmanFilter(3, 2)
    ref.x, ref.P, ref.Q, ref.R = x_hat0.copy(), P0.copy(), np.array(m.process_noise), np.array(m.measurement_noise)
    rng = np.random.default_rng(5)
    x = np.array([0.6, 0.0, 0.05])    # the camera is 5 cm off
    for k in range(300):
        u = np.array([np.sin(0.05 * k)])
        y = np.array(h(x, u, [])[0]).ravel() + np.linalg.cholesky(ref.R) @ rng.standard_normal(2)
        assert ekf.update(y, u) == "ok"
        ref.update(y, lambda xx: np.array(h(xx, u, [])[1]), lambda xx: np.array(h(xx, u, [])[0]).ravel())
        assert np.allclose(ekf.x, ref.x, rtol=1e-10, atol=1e-12) and np.allclose(ekf.P, ref.P, rtol=1e-9, atol=1e-15)
        assert ekf.predict(u) == "ok"
        ref.F = np.array(F(ref.x, u, [])[1])
        ref.predict_x = lambda _ignored: setattr(ref, "x", np.array(F(ref.x, u, [])[0]).ravel())
        ref.predict()
        x = np.array(F(x, u, [])[0]).ravel() + np.sqrt(np.diag(ref.Q)) * rng.standard_normal(3)
    x_hat, P = ekf.state()
    assert abs(x_hat[2] - x[2]) < 3 * np.sqrt(P[2, 2]) and np.sqrt(P[2, 2]) < 0.01   # the bias, learnt
