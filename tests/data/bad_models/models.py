"""A gallery of broken model functions, one mistake each, as users make them.

Each is loaded as ``models.py:NAME`` by tests/test_bad_models.py, which expects one
error line naming the mistake, exit code 2, and no output folder. The cart-spring
plant below is the correct version they all start from.
"""

import sys

import casadi as ca

from mpcgen import Model, Var, output, var

TS = 0.05

NOT_A_FUNCTION = 3


def plant() -> Model:
    """The correct model: a mass on a spring with a force input (nx=2, nu=1, np=1)."""
    q, v, f = var("q", -1, 1), var("v", -2, 2), var("f", -5, 5)
    k = var("k", 0.5, 2.0, nominal=1.0)
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol + f.symbol], [k])


def _vars():
    return var("q", -1, 1), var("v", -2, 2), var("f", -5, 5), var("k", 0.5, 2.0, nominal=1.0)


# Dimensions -----------------------------------------------------------------------
def missing_equation() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [q, v], [f], [v.symbol], [k])


def extra_equation() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [q, v], [f], [v.symbol, f.symbol, q.symbol], [k])


def vector_symbol() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [Var(ca.SX.sym("q", 2), -1, 1), v], [f], [v.symbol, f.symbol], [k])


def no_states() -> Model:
    return Model("plant", [], [var("f", -1, 1)], [])


# Symbols --------------------------------------------------------------------------
def undeclared_symbol() -> Model:
    q, v, f, k = _vars()
    c = ca.SX.sym("c")  # a damping coefficient never declared as a parameter
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol - c * v.symbol + f.symbol], [k])


def redeclared_symbol() -> Model:
    q, v, f, k = _vars()
    q_again = ca.SX.sym("q")  # same name as the state, but another symbol
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q_again + f.symbol], [k])


def mx_symbols() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [Var(ca.MX.sym("q"), -1, 1), v], [f], [v.symbol, f.symbol], [k])


def mx_ode() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [q, v], [f], ca.MX.sym("rhs", 2), [k])


def string_input() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [q, v], ["f"], [v.symbol, f.symbol], [k])


def missing_expression() -> Model:
    q, v, f, k = _vars()
    acc = None  # forgot to write the acceleration
    return Model("plant", [q, v], [f], [v.symbol, acc], [k])


# Constants and values at the nominal point -----------------------------------------
def nan_constant() -> Model:
    q, v, f, k = _vars()
    damping = float("nan")  # a failed table lookup
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol - damping * v.symbol + f.symbol], [k])


def inf_constant() -> Model:
    q, v, f, k = _vars()
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol + f.symbol * float("inf")], [k])


def division_by_zero() -> Model:
    """1/q with q in [-1, 1]: infinite at the nominal point q = 0."""
    q, v, f, k = _vars()
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol / q.symbol + f.symbol], [k])


def sqrt_of_negative() -> Model:
    """A parameter range that is negative where the ODE takes its square root."""
    q, v, f = var("q", -1, 1), var("v", -2, 2), var("f", -5, 5)
    k = var("k", -2.0, -0.5)
    return Model("plant", [q, v], [f], [v.symbol, -ca.sqrt(k.symbol) * q.symbol + f.symbol], [k])


def infinite_slope() -> Model:
    """sqrt(q) at the nominal q = 0: finite value, infinite derivative."""
    q, v, f, k = var("q", 0, 1, nominal=0.0), var("v", -2, 2), var("f", -5, 5), var("k", 0.5, 2.0)
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * ca.sqrt(q.symbol) + f.symbol], [k])


# Names ----------------------------------------------------------------------------
def non_c_model_name() -> Model:
    q, v, f, k = _vars()
    return Model("cart-spring", [q, v], [f], [v.symbol, f.symbol], [k])


def keyword_state_name() -> Model:
    q, f, k = var("q", -1, 1), var("f", -5, 5), var("k", 0.5, 2.0)
    v = var("double", -2, 2)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], [k])


def space_in_name() -> Model:
    q, f, k = var("q", -1, 1), var("f", -5, 5), var("k", 0.5, 2.0)
    v = var("q dot", -2, 2)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], [k])


def duplicate_name() -> Model:
    q, v, f = var("q", -1, 1), var("v", -2, 2), var("f", -5, 5)
    k = var("q", 0.5, 2.0)
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol + f.symbol], [k])


# Ranges ---------------------------------------------------------------------------
def inverted_range() -> Model:
    q, v, f, k = var("q", 1, -1), var("v", -2, 2), var("f", -5, 5), var("k", 0.5, 2.0)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], [k])


def empty_range() -> Model:
    q, v, f, k = var("q", -1, 1), var("v", -2, 2), var("f", 0, 0), var("k", 0.5, 2.0)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], [k])


def nominal_outside_range() -> Model:
    q, v, f, k = var("q", -1, 1), var("v", -2, 2), var("f", -5, 5), var("k", 0.5, 2.0, nominal=5.0)
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol + f.symbol], [k])


def infinite_range() -> Model:
    q, v, f, k = var("q", -1, 1), var("v", -float("inf"), float("inf")), var("f", -5, 5), var("k", 0.5, 2.0)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], [k])


def nan_nominal() -> Model:
    q, v, f, k = var("q", -1, 1, nominal=float("nan")), var("v", -2, 2), var("f", -5, 5), var("k", 0.5, 2.0)
    return Model("plant", [q, v], [f], [v.symbol, f.symbol], [k])


# The model function itself --------------------------------------------------------
def raises() -> Model:
    masses = {"cart": 1.0}
    m = masses["pole"]
    return Model("plant", [var("q", -1, 1)], [var("f", -1, 1)], [m])


def casadi_raises() -> Model:
    """CasADi's errors span several lines; the CLI must still print one."""
    x = ca.SX.sym("x", 2, 3)
    return ca.mtimes(x, ca.SX.sym("y", 2, 1))


def exits() -> Model:
    sys.exit(0)


def needs_argument(masses: int) -> Model:
    return plant()


def not_a_model():
    return {"states": ["q", "v"]}


# The measurement model (outputs y = h(x, u, p), process and measurement noise) ------
def _measured(outputs, process=None, measurement=None) -> Model:
    q, v, f, k = _vars()
    return Model("plant", [q, v], [f], [v.symbol, -k.symbol * q.symbol + f.symbol], [k],
                 outputs=outputs(q, v), process_noise=process, measurement_noise=measurement)


def measured_plant() -> Model:
    """The correct measured plant: the position q is measured with 1 cm noise."""
    return _measured(lambda q, v: [output("q_meas", q, -1, 1, unit="m")], (1e-3, 1e-2), (1e-2,))


def output_undeclared_symbol() -> Model:
    return _measured(lambda q, v: [output("q_meas", q.symbol + ca.SX.sym("bias"), -1, 1)])


def output_not_scalar() -> Model:
    return _measured(lambda q, v: [output("q_meas", ca.vertcat(q.symbol, v.symbol), -1, 1)])


def output_nan_constant() -> Model:
    return _measured(lambda q, v: [output("q_meas", q.symbol * float("nan"), -1, 1)])


def output_not_an_output() -> Model:
    return _measured(lambda q, v: [q])


def output_name_clash() -> Model:
    return _measured(lambda q, v: [output("q", q, -1, 1)])


def negative_measurement_std() -> Model:
    return _measured(lambda q, v: [output("q_meas", q, -1, 1)], measurement=(-0.1,))


def wrong_process_noise_size() -> Model:
    return _measured(lambda q, v: [output("q_meas", q, -1, 1)], process=(0.1, 0.1, 0.1))


def indefinite_process_covariance() -> Model:
    return _measured(lambda q, v: [output("q_meas", q, -1, 1)], process=[[1.0, 0.0], [0.0, -1e-4]])


def nan_measurement_noise() -> Model:
    return _measured(lambda q, v: [output("q_meas", q, -1, 1)], measurement=(float("nan"),))


def noise_without_outputs() -> Model:
    return _measured(lambda q, v: [], measurement=(0.1,))
