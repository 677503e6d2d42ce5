"""Inverted pendulum on a cart: the swing-up benchmark of the acados examples.

A cart of mass M moves on a horizontal track, pushed by a force F. A point mass m
sits at the end of a massless pole of length l, hinged on the cart. No friction.

State  x = (p, theta, v, omega)
    p      cart position [m]
    theta  pole angle [rad]; theta = 0 is UPRIGHT, theta = pi hangs down
    v      cart velocity [m/s]
    omega  pole angular velocity [rad/s]
Input  u = F, horizontal force on the cart [N]

With s = sin(theta), c = cos(theta) and the denominator D = M + m - m c^2 = M + m s^2
(at least M, so never zero), Lagrange's equations for this cart-pole read

    pdot     = v
    thetadot = omega
    vdot     = (-m l s omega^2 + m g c s + F) / D
    omegadot = (-m l c s omega^2 + F c + (M + m) g s) / (l D)

Both theta = 0 and theta = pi at rest with F = 0 are equilibria; the upright one is
unstable (a real eigenvalue of about +sqrt((M + m) g / (M l))).

Equations and values (M = 1 kg, m = 0.1 kg, l = 0.8 m, g = 9.81 m/s^2, force bound
80 N, horizon T = 1 s with N = 20 intervals, hence Ts = 0.05 s) follow the
pendulum-on-cart example distributed with acados:
R. Verschueren, G. Frison, D. Kouzoupis, J. Frey, N. van Duijkeren, A. Zanelli,
B. Novoselnik, T. Albin, R. Quirynen, M. Diehl, "acados -- a modular open-source
framework for fast embedded optimal control", Mathematical Programming Computation,
2022. M, m and l are parameters (nominal = the acados values, +-20 %); g is a constant.

Measurement model (not in the acados example): two encoders, the cart position p and
the pole angle theta, each with white noise of standard deviation 5 mm and 5 mrad; the
velocities are not measured. Process noise per sample: 1 mm and 1 mrad on the positions,
0.01 m/s and 0.02 rad/s on the velocities (unmodelled friction and pushes).
"""

from __future__ import annotations

import math

import casadi as ca
import numpy as np

from ..measurement import output
from ..model import Model, var

TS = 0.05
"""Default sample time [s]: the acados example's T = 1 s over N = 20 intervals."""

GRAVITY = 9.81
"""Gravitational acceleration [m/s^2]."""

PROCESS_NOISE = (1e-3, 1e-3, 1e-2, 2e-2)
"""Standard deviations of the per-sample process noise on (p, theta, v, omega)."""

MEASUREMENT_NOISE = (5e-3, 5e-3)
"""Standard deviations of the position [m] and angle [rad] measurements."""

REFERENCE = (
    "R. Verschueren et al., 'acados -- a modular open-source framework for fast embedded "
    "optimal control', Mathematical Programming Computation, 2022 (pendulum-on-cart example)"
)


def cart_pole_accelerations(
    theta: ca.SX, omega: ca.SX, force: ca.SX, cart_mass: ca.SX, pole_mass: ca.SX, length: ca.SX
) -> tuple[ca.SX, ca.SX]:
    """Cart acceleration vdot and pole angular acceleration omegadot (theta = 0 upright)."""
    s, c = ca.sin(theta), ca.cos(theta)
    denominator = cart_mass + pole_mass - pole_mass * c * c
    vdot = (-pole_mass * length * s * omega**2 + pole_mass * GRAVITY * c * s + force) / denominator
    omegadot = (
        -pole_mass * length * c * s * omega**2 + force * c + (cart_mass + pole_mass) * GRAVITY * s
    ) / (length * denominator)
    return vdot, omegadot


def pendulum() -> Model:
    """The cart-pole, nx = 4 (p, theta, v, omega), nu = 1 (F), np = 3 (M, m, l)."""
    p = var("p", -2.0, 2.0, nominal=0.0, unit="m")
    theta = var("theta", -math.pi, math.pi, nominal=0.0, unit="rad")
    v = var("v", -5.0, 5.0, nominal=0.0, unit="m/s")
    omega = var("omega", -10.0, 10.0, nominal=0.0, unit="rad/s")
    force = var("F", -80.0, 80.0, nominal=0.0, unit="N")
    cart_mass = var("M", 0.8, 1.2, nominal=1.0, unit="kg")
    pole_mass = var("m", 0.08, 0.12, nominal=0.1, unit="kg")
    length = var("l", 0.64, 0.96, nominal=0.8, unit="m")

    vdot, omegadot = cart_pole_accelerations(
        theta.symbol, omega.symbol, force.symbol, cart_mass.symbol, pole_mass.symbol, length.symbol
    )
    return Model(
        "pendulum",
        states=(p, theta, v, omega),
        inputs=(force,),
        ode=[v.symbol, omega.symbol, vdot, omegadot],
        parameters=(cart_mass, pole_mass, length),
        description="inverted pendulum on a cart; theta = 0 upright, theta = pi hanging down",
        reference=REFERENCE,
        outputs=(output("p_meas", p, -2.0, 2.0, unit="m"), output("theta_meas", theta, -math.pi, math.pi, unit="rad")),
        process_noise=PROCESS_NOISE,
        measurement_noise=MEASUREMENT_NOISE,
    )


def ocp(model: Model | None = None):
    """The swing-up OCP of the acados pendulum example: N = 20 over T = 1 s,
    Q = 2 diag(1e3, 1e3, 1e-2, 1e-2), R = 2e-2, terminal weight Q, |F| <= 80 N,
    reference: upright at rest at the origin. (``model`` is accepted for a uniform
    signature with the other examples; this OCP uses no model symbols.)"""
    from ..ocp import Ocp

    Q = 2 * np.diag([1e3, 1e3, 1e-2, 1e-2])
    return Ocp(N=20, Q=Q, R=np.array([[2e-2]]), P=Q, u_lo=[-80.0], u_hi=[80.0])


def scenario(model: Model | None = None):
    """Swing-up: from hanging down at rest, (0, pi, 0, 0), for 100 samples (5 s)."""
    from ..scenario import Scenario

    return Scenario("swing-up from hanging down at rest to upright at the origin",
                    x0=(0.0, math.pi, 0.0, 0.0), steps=100)
