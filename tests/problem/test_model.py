"""Model validation: each mistake gives a ModelError that names the problem."""

from __future__ import annotations

import casadi as ca
import pytest

from mpcgen.errors import ModelError, NonSmoothWarning, OptionsError
from mpcgen.problem.model import Model, Var, var
from mpcgen.problem.options import CodegenOptions


def _two_states():
    a, b, u = var("a", -1, 1), var("b", -1, 1), var("u", -1, 1)
    return a, b, u


def test_valid_model_sizes_and_vectors() -> None:
    a, b, u = _two_states()
    k = var("k", 0.5, 2.0, nominal=1.0)
    m = Model("plant", [a, b], [u], [b.symbol, -k.symbol * a.symbol + u.symbol], [k])
    assert (m.nx, m.nu, m.np) == (2, 1, 1)
    assert m.x.shape == (2, 1) and m.ode.shape == (2, 1)
    assert k.nominal_value == 1.0 and a.nominal_value == 0.0


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda a, b, u: Model("2bad", [a, b], [u], [b.symbol, a.symbol]), "model name '2bad' is not a valid C identifier"),
        (lambda a, b, u: Model("int", [a, b], [u], [b.symbol, a.symbol]), "not a valid C identifier"),
        (lambda a, b, u: Model("m", [a, a], [u], [b.symbol, a.symbol]), "name 'a' is used by a state and a state"),
        (lambda a, b, u: Model("m", [a, b], [var("a", 0, 1)], [b.symbol, a.symbol]), "used by a state and a input"),
        (lambda a, b, u: Model("m", [a, b], [u], [b.symbol]), "ODE has shape 1x1 but the model has 2 states"),
        (lambda a, b, u: Model("m", [a, b], [u], [b.symbol, ca.SX.sym("c")]), "state 'b' uses undeclared symbol"),
        (lambda a, b, u: Model("m", [a, b], [u], [b.symbol, a.symbol * float("nan")]), "contains the constant nan"),
        (lambda a, b, u: Model("m", [a, b], [u], [b.symbol, a.symbol + float("inf")]), "contains the constant inf"),
        (lambda a, b, u: Model("m", [Var(ca.MX.sym("q"), 0, 1), b], [u], [b.symbol, b.symbol]), "is a CasADi MX symbol"),
        (lambda a, b, u: Model("m", [Var(ca.SX.sym("q", 2), 0, 1), b], [u], [b.symbol, b.symbol]), "one scalar"),
        (lambda a, b, u: Model("m", [var("my state", 0, 1), b], [u], [b.symbol, b.symbol]), "'my state' is not a valid C"),
        (lambda a, b, u: Model("m", [var("z", 1, 0), b], [u], [b.symbol, b.symbol]), "range lo=1.0 >= hi=0.0"),
        (lambda a, b, u: Model("m", [var("z", 0, 1, nominal=3), b], [u], [b.symbol, b.symbol]), "nominal 3.0 lies outside"),
        (lambda a, b, u: Model("m", [var("z", 0, float("inf")), b], [u], [b.symbol, b.symbol]), "non-finite hi"),
        (lambda a, b, u: Model("m", [], [u], []), "has no states"),
        (lambda a, b, u: Model("m", [a, b], [u], ca.MX.sym("o", 2)), "ODE is a CasADi MX expression"),
        (lambda a, b, u: Model("m", [a, b], ["u"], [b.symbol, a.symbol]), "must be an mpcgen.Var"),
    ],
)
def test_invalid_models_name_the_problem(build, message) -> None:
    a, b, u = _two_states()
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(a, b, u)


def test_nonsmooth_operations_warn_with_state_name() -> None:
    a, b, u = _two_states()
    with pytest.warns(NonSmoothWarning, match=r"state 'b' uses non-smooth fabs, fmin"):
        m = Model("m", [a, b], [u], [b.symbol, ca.fabs(a.symbol) + ca.fmin(u.symbol, 0)])
    assert len(m.warnings) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ts": -0.1}, "sample time ts must be a positive"),
        ({"ts": float("nan")}, "sample time ts must be a positive"),
        ({"ts": 0.1, "precision": "half"}, "precision must be one of double, float"),
        ({"ts": 0.1, "integrator": "rk45"}, "integrator must be one of rk4, rk2, euler"),
        ({"ts": 0.1, "substeps": 0}, "substeps must be an integer from 1"),
        ({"ts": 0.1, "substep_form": "rolled"}, "substep form must be one of"),
    ],
)
def test_invalid_options(kwargs, message) -> None:
    with pytest.raises(OptionsError, match=message):
        CodegenOptions(**kwargs)


def test_substep_form_auto_loops_from_four() -> None:
    assert not CodegenOptions(ts=0.1, substeps=3).looped
    assert CodegenOptions(ts=0.1, substeps=4).looped
    assert not CodegenOptions(ts=0.1, substeps=8, substep_form="unrolled").looped
