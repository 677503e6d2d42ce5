"""A model file with its controller, as a user writes it: FUNCTION_ocp(model) is the OCP."""

import casadi as ca
import numpy as np

from mpcgen import Model, Ocp, var

TS = 0.05


def arm() -> Model:
    """A single link under gravity with a motor torque: theta'' = -(g/l) sin(theta) - b theta' + tau."""
    theta, omega = var("theta", -3.2, 3.2, unit="rad"), var("omega", -8, 8, unit="rad/s")
    tau = var("tau", -5, 5, unit="N m")
    g_over_l, b = var("g_over_l", 5, 15, nominal=9.81), var("b", 0.05, 0.5, nominal=0.2)
    acc = -g_over_l.symbol * ca.sin(theta.symbol) - b.symbol * omega.symbol + tau.symbol
    return Model("arm", [theta, omega], [tau], [omega.symbol, acc], [g_over_l, b], description="single link")


def arm_ocp(model):
    """Hold the link at 0.4 rad with |tau| <= 5, a soft speed bound and a soft nonlinear
    path constraint on the tip height, sin(theta) <= 0.6."""
    theta = model.x[0]
    return Ocp(N=15, Q=np.diag([10.0, 0.1]), R=np.array([[0.01]]), x_ref=[0.4, 0.0],
               u_ref=[9.81 * np.sin(0.4)], u_lo=[-5.0], u_hi=[5.0],
               x_lo=[-np.inf, -6.0], x_hi=[np.inf, 6.0], h=ca.sin(theta) - 0.6)
