"""Quadrotor: rigid body with four rotor thrusts, Z-Y-X Euler angles, 12 states.

Frames: the world frame has z pointing UP; the body frame has x forward, z along the
rotor axes. The attitude is R = Rz(psi) Ry(theta) Rx(phi) (roll phi, pitch theta,
yaw psi), valid away from theta = +-pi/2.

State  x = (x, y, z, vx, vy, vz, phi, theta, psi, wx, wy, wz)
    position [m] and velocity [m/s] in the world frame, Euler angles [rad],
    body angular rates [rad/s] (often written p, q, r)
Input  u = (f1, f2, f3, f4), rotor thrusts [N]

Rotors in "+" configuration at arm length d: rotor 1 on +x, 2 on +y, 3 on -x, 4 on -y.
Rotors 1 and 3 turn the other way round from 2 and 4; each rotor's drag reaction
torque about z is kappa f_i with alternating sign. Total thrust and body torques:

    T    = f1 + f2 + f3 + f4
    taux = d (f2 - f4)
    tauy = d (f3 - f1)
    tauz = kappa (f1 - f2 + f3 - f4)

Newton-Euler equations (Mahony, Kumar, Corke 2012, eqs. for the rigid body with thrust
along body z; rotor gyroscopic and aerodynamic drag terms neglected), with
c = cos, s = sin and inertia J = diag(Ixx, Iyy, Izz):

    d/dt (x, y, z)    = (vx, vy, vz)
    d/dt (vx, vy, vz) = (T / m) R e3 - g e3, where
        R e3 = (c psi s theta c phi + s psi s phi,  s psi s theta c phi - c psi s phi,  c theta c phi)
    phidot   = wx + (wy s phi + wz c phi) s theta / c theta
    thetadot = wy c phi - wz s phi
    psidot   = (wy s phi + wz c phi) / c theta
    Ixx wxdot = (Iyy - Izz) wy wz + taux
    Iyy wydot = (Izz - Ixx) wz wx + tauy
    Izz wzdot = (Ixx - Iyy) wx wy + tauz

Hovering (level attitude, zero velocity and rates) with f_i = m g / 4 is an equilibrium
at any position and yaw.

Equations: R. Mahony, V. Kumar, P. Corke, "Multirotor aerial vehicles: modeling,
estimation, and control of quadrotor", IEEE Robotics & Automation Magazine, 2012.
Values of the EPFL OS4 quadrotor: S. Bouabdallah, R. Siegwart, "Full control of a
quadrotor", IEEE/RSJ IROS, 2007 (m = 0.65 kg, d = 0.23 m, Ixx = Iyy = 7.5e-3 kg m^2,
Izz = 1.3e-2 kg m^2, thrust factor b = 3.13e-5 N s^2 and drag factor 7.5e-7 N m s^2,
hence kappa = 7.5e-7 / 3.13e-5 = 0.024 m). These six are parameters (+-20 %).

Measurement model: position (x, y, z) from motion capture with 1 cm noise and attitude
(phi, theta, psi) from an attitude reference with 5 mrad noise, one standard deviation;
velocities and rates are not measured. Process noise per sample: 1 mm on positions,
5 mm/s on velocities, 1 mrad on angles and 0.01 rad/s on rates (gusts, rotor scatter).
"""

from __future__ import annotations

import math

import casadi as ca
import numpy as np

from ..measurement import output
from ..model import Model, Var, var

TS = 0.02
"""Default sample time [s] (50 Hz, a usual rate for position MPC of small multirotors)."""

GRAVITY = 9.81
"""Gravitational acceleration [m/s^2]."""

MASS = 0.65
"""Nominal vehicle mass [kg] (OS4)."""

HOVER_THRUST = MASS * GRAVITY / 4.0
"""Per-rotor thrust [N] that holds the nominal vehicle in hover."""

PROCESS_NOISE = (1e-3,) * 3 + (5e-3,) * 3 + (1e-3,) * 3 + (1e-2,) * 3
"""Standard deviations of the per-sample process noise, in state order."""

MEASUREMENT_NOISE = (1e-2,) * 3 + (5e-3,) * 3
"""Standard deviations of the position [m] and attitude [rad] measurements."""

REFERENCE = (
    "R. Mahony, V. Kumar, P. Corke, 'Multirotor aerial vehicles: modeling, estimation, and control "
    "of quadrotor', IEEE Robotics & Automation Magazine, 2012; values of the OS4 from S. Bouabdallah, "
    "R. Siegwart, 'Full control of a quadrotor', IEEE/RSJ IROS, 2007"
)


def thrust_direction(phi: ca.SX, theta: ca.SX, psi: ca.SX) -> list[ca.SX]:
    """Third column R e3 of R = Rz(psi) Ry(theta) Rx(phi): the body z axis in the world."""
    cph, sph = ca.cos(phi), ca.sin(phi)
    cth, sth = ca.cos(theta), ca.sin(theta)
    cps, sps = ca.cos(psi), ca.sin(psi)
    return [cps * sth * cph + sps * sph, sps * sth * cph - cps * sph, cth * cph]


def euler_rates(phi: ca.SX, theta: ca.SX, wx: ca.SX, wy: ca.SX, wz: ca.SX) -> list[ca.SX]:
    """Z-Y-X Euler angle rates (phidot, thetadot, psidot) from the body rates."""
    cph, sph = ca.cos(phi), ca.sin(phi)
    cth, sth = ca.cos(theta), ca.sin(theta)
    w_tilted = wy * sph + wz * cph  # body rate about the axis rolled by phi
    return [wx + w_tilted * sth / cth, wy * cph - wz * sph, w_tilted / cth]


def body_wrench(f: list[ca.SX], arm: ca.SX, kappa: ca.SX) -> tuple[ca.SX, list[ca.SX]]:
    """Total thrust T and body torques (taux, tauy, tauz) of the "+" rotor layout."""
    f1, f2, f3, f4 = f
    return f1 + f2 + f3 + f4, [arm * (f2 - f4), arm * (f3 - f1), kappa * (f1 - f2 + f3 - f4)]


def _states() -> tuple[Var, ...]:
    position = tuple(var(n, -5.0, 5.0, nominal=0.0, unit="m") for n in ("x", "y", "z"))
    velocity = tuple(var(n, -3.0, 3.0, nominal=0.0, unit="m/s") for n in ("vx", "vy", "vz"))
    attitude = (
        var("phi", -0.7, 0.7, nominal=0.0, unit="rad"),
        var("theta", -0.7, 0.7, nominal=0.0, unit="rad"),
        var("psi", -math.pi, math.pi, nominal=0.0, unit="rad"),
    )
    rates = tuple(var(n, -4.0, 4.0, nominal=0.0, unit="rad/s") for n in ("wx", "wy", "wz"))
    return position + velocity + attitude + rates


def _parameters() -> tuple[Var, ...]:
    return (
        var("mass", 0.8 * MASS, 1.2 * MASS, nominal=MASS, unit="kg"),
        var("arm", 0.184, 0.276, nominal=0.23, unit="m"),
        var("Ixx", 6.0e-3, 9.0e-3, nominal=7.5e-3, unit="kg m^2"),
        var("Iyy", 6.0e-3, 9.0e-3, nominal=7.5e-3, unit="kg m^2"),
        var("Izz", 1.04e-2, 1.56e-2, nominal=1.3e-2, unit="kg m^2"),
        var("kappa", 0.0192, 0.0288, nominal=0.024, unit="m"),
    )


def quadrotor() -> Model:
    """The quadrotor, nx = 12, nu = 4 (rotor thrusts), np = 6 (m, d, Ixx, Iyy, Izz, kappa)."""
    states = _states()
    inputs = tuple(var(f"f{i}", 0.0, 3.5, nominal=HOVER_THRUST, unit="N") for i in range(1, 5))
    parameters = _parameters()
    _, _, _, vx, vy, vz, phi, theta, psi, wx, wy, wz = (s.symbol for s in states)
    mass, arm, ixx, iyy, izz, kappa = (p.symbol for p in parameters)

    thrust, (taux, tauy, tauz) = body_wrench([f.symbol for f in inputs], arm, kappa)
    ex, ey, ez = thrust_direction(phi, theta, psi)
    acceleration = [thrust / mass * ex, thrust / mass * ey, thrust / mass * ez - GRAVITY]
    angular_acceleration = [
        ((iyy - izz) * wy * wz + taux) / ixx,
        ((izz - ixx) * wz * wx + tauy) / iyy,
        ((ixx - iyy) * wx * wy + tauz) / izz,
    ]
    ode = [vx, vy, vz, *acceleration, *euler_rates(phi, theta, wx, wy, wz), *angular_acceleration]
    return Model(
        "quadrotor",
        states=states,
        inputs=inputs,
        ode=ode,
        parameters=parameters,
        description="quadrotor, rotor thrusts as inputs, Z-Y-X Euler angles, world z up",
        reference=REFERENCE,
        outputs=tuple(output(f"{s.name}_meas", s, s.lo, s.hi, unit=s.unit) for i, s in enumerate(states)
                      if i in (0, 1, 2, 6, 7, 8)),
        process_noise=PROCESS_NOISE,
        measurement_noise=MEASUREMENT_NOISE,
    )


TARGET = (1.0, 0.0, 0.0)
"""Position [m] the OCP's reference hovers at: 1 m along x from the origin."""

MAX_TILT = 0.5
"""Soft bound on roll and pitch [rad] (about 29 degrees): keeps the attitude well away
from the Euler-angle singularity at pitch +-pi/2 and bounds the horizontal acceleration
to about g tan(0.5) = 5.4 m/s^2."""


def ocp(model: Model | None = None, target: tuple[float, float, float] = TARGET):
    """Position tracking: hover at ``target`` (default 1 m along x) with level attitude.

    N = 20 at Ts = 0.02 s (0.4 s ahead; the Riccati terminal weight stands in for the
    rest). Weights, per unit of the deviation: position 200, velocity 5, angles 1, rates
    0.1 -- position error dominates and the velocity weight damps the approach without
    making it sluggish (slowest translational LQR pole about 0.9 per sample, a time
    constant of about 0.2 s); R = 0.1 per N^2 of rotor thrust away from hover. Thrusts
    within the model's range [0, 3.5] N each (rotors only push; about 2.2 times the
    hover thrust); roll and pitch within +-MAX_TILT as soft bounds. Reference: hover at
    ``target`` with f_i = m g / 4.
    (``model`` is accepted for a uniform signature; this OCP uses no model symbols.)
    """
    from ..ocp import Ocp

    x_ref = np.zeros(12)
    x_ref[:3] = target
    return Ocp(
        N=20,
        Q=np.array([200.0] * 3 + [5.0] * 3 + [1.0] * 3 + [0.1] * 3),
        R=np.full(4, 0.1),
        x_ref=x_ref,
        u_ref=np.full(4, HOVER_THRUST),
        u_lo=np.zeros(4),
        u_hi=np.full(4, 3.5),
        x_lo=[-np.inf] * 6 + [-MAX_TILT] * 2 + [-np.inf] * 4,  # roll and pitch only
        x_hi=[np.inf] * 6 + [MAX_TILT] * 2 + [np.inf] * 4,
    )


def scenario(model: Model | None = None):
    """From hover at the origin to hover at TARGET, 100 samples (2 s)."""
    from ..scenario import Scenario

    return Scenario(f"from hover at the origin to hover at {TARGET} m", x0=(0.0,) * 12, steps=100)
