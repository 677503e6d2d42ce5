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


def tank() -> Model:
    """One tank fed by three valves (more inputs than states): h' = (q1 + q2 + q3 - c sqrt(h)) / area."""
    h = var("h", 0.1, 2.0, unit="m")
    q1, q2, q3 = (var(f"q{i}", 0.0, 1.0, unit="m^3/s") for i in (1, 2, 3))
    out = 0.5 * ca.sqrt(h.symbol + 0.01)
    return Model("tank", [h], [q1, q2, q3], [(q1.symbol + q2.symbol + q3.symbol - out) / 2.0])


def tank_ocp(model):
    """Hold the level at 1 m, spreading the inflow over the valves (0 <= q <= 1)."""
    q_ss = 0.5 * np.sqrt(1.01) / 3
    return Ocp(N=10, Q=[[100.0]], R=np.diag([1.0, 2.0, 3.0]), x_ref=[1.0], u_ref=[q_ss] * 3,
               u_lo=[0.0] * 3, u_hi=[1.0] * 3, x_lo=[0.2], x_hi=[1.8])
