"""A gantry crane with a winch, as a new user writes it (nx = 6, nu = 2).

The cart moves along a rail and the winch reels the rope in and out; both are driven
by their accelerations (inner speed loops assumed). The load swings on a rope of
length l: for a point mass,

    l theta'' + 2 l' theta' + a cos(theta) + g sin(theta) = -c l theta'

with a the cart's acceleration and a small damping c. The file imports a helper from
its own folder (``crane_geometry.py``), as users split their models.
"""

import dataclasses

import casadi as ca
import numpy as np
from crane_geometry import GRAVITY, load_position

from mpcgen import Model, Ocp, Scenario, var

TS = 0.05


def crane() -> Model:
    xc, vc = var("xc", -2, 2, nominal=0.0, unit="m"), var("vc", -2, 2, nominal=0.0, unit="m/s")
    length, vl = var("l", 0.5, 3.0, nominal=1.5, unit="m"), var("vl", -1, 1, nominal=0.0, unit="m/s")
    theta, omega = var("theta", -1, 1, nominal=0.0, unit="rad"), var("omega", -3, 3, nominal=0.0, unit="rad/s")
    a, b = var("a", -3, 3, unit="m/s^2"), var("b", -1, 1, unit="m/s^2")
    c = var("c", 0.0, 0.5, nominal=0.05, unit="1/s")
    th, om, ll = theta.symbol, omega.symbol, length.symbol
    swing = -(a.symbol * ca.cos(th) + GRAVITY * ca.sin(th) + 2 * vl.symbol * om) / ll - c.symbol * om
    return Model("crane", [xc, vc, length, vl, theta, omega], [a, b],
                 [vc.symbol, a.symbol, vl.symbol, b.symbol, om, swing], [c],
                 description="gantry crane with a winch, acceleration-driven cart and rope")


def crane_ocp(model: Model) -> Ocp:
    """Carry the load 1 m along and 0.5 m up (rope from 1.5 m to 1 m) with little swing."""
    _, z = load_position(model.x[0], model.x[2], model.x[4])
    return Ocp(N=30, Q=np.diag([10.0, 1.0, 10.0, 1.0, 5.0, 1.0]), R=np.diag([0.1, 0.1]),
               x_ref=[1.0, 0.0, 1.0, 0.0, 0.0, 0.0], u_lo=[-3.0, -1.0], u_hi=[3.0, 1.0],
               x_lo=[-np.inf, -1.5, 0.6, -0.8, -0.5, -np.inf], x_hi=[np.inf, 1.5, 2.5, 0.8, 0.5, np.inf],
               h=-z - 2.5)   # the load stays above 2.5 m below the rail (soft)


def crane_scenario(model: Model) -> Scenario:
    """Carry the load over, bring it back half-way at 4 s, and take a gust on the load at 6 s."""
    return Scenario("carry 1 m and up, back to 0.5 m at 4 s, a gust on the load at 6 s",
                    x0=(0.0, 0.0, 1.5, 0.0, 0.0, 0.0), steps=160,
                    reference_steps=((80, (0.5, 0.0, 1.0, 0.0, 0.0, 0.0)),),
                    pushes=((120, (0.0, 0.0, 0.0, 0.0, 0.0, 0.5)),), noise_std=1e-3)


def crane_bounds(*args, **kwargs) -> Model:
    """The same crane, with its bounds settable per stage at run time."""
    return crane(*args, **kwargs)


def crane_bounds_ocp(model: Model) -> Ocp:
    return dataclasses.replace(crane_ocp(model), runtime_bounds=True)


crane_bounds_scenario = crane_scenario


def crane_hard(*args, **kwargs) -> Model:
    """The same crane, with the swing limited hard to 0.1 rad, and the load's height."""
    return crane(*args, **kwargs)


def crane_hard_ocp(model: Model) -> Ocp:
    ocp = crane_ocp(model)
    x_lo, x_hi = np.array(ocp.x_lo), np.array(ocp.x_hi)
    x_lo[4], x_hi[4] = -0.1, 0.1
    return dataclasses.replace(ocp, x_lo=x_lo, x_hi=x_hi, x_hard=(False, False, False, False, True, False),
                               h_hard=True)


crane_hard_scenario = crane_scenario


def crane_rate(*args, **kwargs) -> Model:
    """The crane with rate limits on its drives: the applied accelerations are states."""
    from mpcgen import rate_model

    return rate_model(crane(*args, **kwargs), TS)


def crane_rate_ocp(model: Model) -> Ocp:
    """At most 0.3 m/s^2 more cart and 0.1 m/s^2 more winch acceleration per sample."""
    from mpcgen import rate_ocp

    return rate_ocp(crane_ocp(model), model, du_max=[0.3, 0.1])


def crane_rate_scenario(model: Model) -> Scenario:
    return Scenario("carry 1 m and up, drives at rest", x0=(0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0), steps=160)
