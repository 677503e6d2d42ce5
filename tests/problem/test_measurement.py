"""The measurement model: outputs y = h(x, u, p) and noise levels declared with the plant."""

from __future__ import annotations

import casadi as ca
import numpy as np
import pytest
from conftest import ROOT

from mpcgen import Model, output, var
from mpcgen.errors import ModelError
from mpcgen.problem.examples import get_example
from mpcgen.problem.source import load_source


def _plant(**kw) -> Model:
    q, v, f = var("q", -1, 1, unit="m"), var("v", -2, 2), var("f", -5, 5)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], **kw)


def test_standard_deviations_become_diagonal_covariances() -> None:
    m = _plant(process_noise=(0.1, 0.2))
    assert np.allclose(m.process_noise, np.diag([0.01, 0.04]))
    assert m.measurement_noise is None and m.ny == 0 and m.y.shape == (0, 1)


def test_outputs_are_expressions_of_the_declared_symbols() -> None:
    q, v, f = var("q", -1, 1, unit="m"), var("v", -2, 2), var("f", -5, 5)
    cov = [[1e-4, 1e-5], [1e-5, 4e-4]]
    m = Model("plant", [q, v], [f], [v.symbol, f.symbol],
              outputs=[output("q_meas", q, -1, 1, unit="m"), output("energy", q.symbol**2 + v.symbol**2, 0, 5)],
              measurement_noise=cov)
    assert [o.name for o in m.outputs] == ["q_meas", "energy"] and m.outputs[0].unit == "m"
    h = ca.Function("h", [m.x, m.u, m.p], [m.y])
    assert np.allclose(h([0.5, 2.0], [0.0], []).full().ravel(), [0.5, 4.25])
    assert np.array_equal(np.array(m.measurement_noise), cov)


def test_a_zero_measurement_noise_is_rejected_because_the_innovation_would_be_singular() -> None:
    q, f = var("q", -1, 1), var("f", -5, 5)
    with pytest.raises(ModelError, match="a standard deviation must be positive"):
        Model("plant", [q], [f], [f.symbol], outputs=[output("q_meas", q, -1, 1)], measurement_noise=(0.0,))


def test_a_measured_plant_file_loads() -> None:
    model = load_source(f"{ROOT / 'tests' / 'data' / 'bad_models' / 'models.py'}:measured_plant").model
    assert model.ny == 1 and model.measurement_noise == ((1e-4,),)


@pytest.mark.parametrize("name, measured", [("pendulum", ["p", "theta"]),
                                            ("quadrotor", ["x", "y", "z", "phi", "theta", "psi"])])
def test_examples_measure_positions_and_angles_only(name: str, measured: list[str]) -> None:
    _, m = get_example(name)
    h = ca.Function("h", [m.x, m.u, m.p], [ca.jacobian(m.y, m.x)])
    H = h([0.1] * m.nx, [0.0] * m.nu, [v.nominal_value for v in m.parameters]).full()
    rows = [[m.states[j].name for j in np.flatnonzero(row)] for row in H]
    assert rows == [[n] for n in measured]
    assert np.all(np.linalg.eigvalsh(np.array(m.measurement_noise)) > 0)
    assert np.array(m.process_noise).shape == (m.nx, m.nx)
