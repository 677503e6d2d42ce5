"""Closed-loop simulation: accurate plant, mismatch and noise, the ideal-NMPC reference loop."""

from __future__ import annotations

import numpy as np
import pytest

from mpcgen.problem.examples import get_example, pendulum
from mpcgen.problem.ocp import check_ocp
from mpcgen.problem.options import CodegenOptions
from mpcgen.runs.reference import IpoptMpc
from mpcgen.runs.simulate import plant_step, simulate

EX, MODEL = get_example("pendulum")
OPTS = CodegenOptions(ts=EX.ts)
P_NOM = np.array([v.nominal_value for v in MODEL.parameters])


def test_plant_integration_is_converged() -> None:
    """50 RK4 substeps per sample agree with 400 to far below any controller's error."""
    x, u = np.array([0.2, 2.5, -1.0, 3.0]), np.array([40.0])
    fine = np.array(plant_step(MODEL, EX.ts, 50)(x, u, P_NOM)).ravel()
    finer = np.array(plant_step(MODEL, EX.ts, 400)(x, u, P_NOM)).ravel()
    assert np.abs(fine - finer).max() < 1e-10


@pytest.mark.slow
def test_ideal_nmpc_swings_the_pendulum_up() -> None:
    ocp = check_ocp(MODEL, pendulum.ocp())
    r = simulate(MODEL, IpoptMpc(ocp, OPTS), [0.0, np.pi, 0.0, 0.0], EX.ts, 60)
    theta = np.unwrap(r.X[:, 1])
    assert np.abs(r.U).max() <= 80.0 + 1e-9, "inputs within their bounds"
    assert abs(theta[40]) < 0.01, "upright after 2 s"
    assert np.abs(r.X[-1]).max() < 0.01, "at rest at the origin after 3 s"
    assert r.solve_time.shape == (60,) and (r.solve_time > 0).all()


@pytest.mark.slow
def test_mismatch_and_noise_are_applied() -> None:
    """A 20 % heavier pole and noisy measurements: still stabilizes near upright."""
    ocp = check_ocp(MODEL, pendulum.ocp())
    p_true = P_NOM * np.array([1.0, 1.2, 1.0])
    r = simulate(MODEL, IpoptMpc(ocp, OPTS), [0.0, 0.3, 0.0, 0.0], EX.ts, 40, p_true=p_true,
                 noise_std=[1e-3, 1e-3, 1e-2, 1e-2], seed=1)
    assert np.abs(r.X[-10:, 1]).max() < 0.05
    noiseless = simulate(MODEL, lambda x: np.zeros(1), [0.0, 0.3, 0.0, 0.0], EX.ts, 5, p_true=p_true)
    other = simulate(MODEL, lambda x: np.zeros(1), [0.0, 0.3, 0.0, 0.0], EX.ts, 5)
    assert not np.allclose(noiseless.X, other.X), "the true parameters drive the plant"
