"""Model files as a user writes them, for the CLI and pipeline tests."""

import casadi as ca

from mpcgen import Model, var

TS = 0.05


def oscillator() -> Model:
    """Damped Duffing oscillator with a parameterized stiffness (smooth, nx=2, nu=1, np=2)."""
    q, v = var("q", -2, 2, unit="m"), var("v", -3, 3, unit="m/s")
    f = var("f", -5, 5, unit="N")
    k, c = var("k", 0.5, 2.0, nominal=1.0), var("c", 0.05, 0.3, nominal=0.1)
    acc = -k.symbol * q.symbol - 0.5 * q.symbol**3 - c.symbol * v.symbol + ca.tanh(f.symbol)
    return Model("oscillator", [q, v], [f], [v.symbol, acc], [k, c], description="Duffing oscillator")


def nonsmooth() -> Model:
    """Uses fabs: generates with a warning."""
    q, v, f = var("q", -1, 1), var("v", -1, 1), var("f", -1, 1)
    return Model("nonsmooth", [q, v], [f], [v.symbol, -ca.fabs(q.symbol) + f.symbol])


def bad_dimension() -> Model:
    q, v, f = var("q", -1, 1), var("v", -1, 1), var("f", -1, 1)
    return Model("bad", [q, v], [f], [v.symbol])


def raises() -> Model:
    raise ValueError("spring constant table missing")


def not_a_model():
    return 42
