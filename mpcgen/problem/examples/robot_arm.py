"""Two-link planar robot arm moving in a vertical plane (the "planar elbow manipulator").

Both links are uniform slender rods: link i has mass m_i, length l_i, its centre of mass
at lc_i = l_i / 2 and moment of inertia I_i = m_i l_i^2 / 12 about it. q1 is the angle
of link 1 from the horizontal, q2 the angle of link 2 relative to link 1; gravity points
along -y. No joint friction.

State  x = (q1, q2, dq1, dq2): joint angles [rad] and joint velocities [rad/s]
Input  u = (tau1, tau2): joint torques [N m]

Euler-Lagrange equations  M(q) qdd + C(q, qd) qd + G(q) = tau  with

    M11 = m1 lc1^2 + m2 (l1^2 + lc2^2 + 2 l1 lc2 cos q2) + I1 + I2
    M12 = M21 = m2 (lc2^2 + l1 lc2 cos q2) + I2
    M22 = m2 lc2^2 + I2
    h   = -m2 l1 lc2 sin q2
    C qd = (h (2 dq1 dq2 + dq2^2),  -h dq1^2)
    G   = ((m1 lc1 + m2 l1) g cos q1 + m2 lc2 g cos(q1 + q2),  m2 lc2 g cos(q1 + q2))

The 2x2 mass matrix is symmetric positive definite; it is inverted symbolically,

    qdd = (M22 r1 - M12 r2, M11 r2 - M12 r1) / (M11 M22 - M12^2),   r = tau - C qd - G.

At rest, tau = G(q) holds the arm still at any q.

Equations: M. W. Spong, S. Hutchinson, M. Vidyasagar, "Robot Modeling and Control",
Wiley, 2006 (dynamics chapter, two-link planar manipulator). The book keeps the
parameters symbolic; the values here (m1 = 2.0 kg, m2 = 1.5 kg, l1 = 0.5 m, l2 = 0.4 m)
are chosen for a small laboratory arm and are parameters (+-20 %). g = 9.81 m/s^2.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Union

import casadi as ca
import numpy as np

from ..model import Model, var

TS = 0.01
"""Default sample time [s] (100 Hz)."""

GRAVITY = 9.81
"""Gravitational acceleration [m/s^2]."""

REFERENCE = (
    "M. W. Spong, S. Hutchinson, M. Vidyasagar, 'Robot Modeling and Control', Wiley, 2006 "
    "(two-link planar manipulator); parameter values chosen for a small laboratory arm"
)

#: A symbolic or numeric scalar: the helpers below work on casadi.SX and on floats alike.
Scalar = Union[ca.SX, float]


class ArmParameters(NamedTuple):
    """Link masses [kg] and lengths [m]; links are uniform slender rods."""

    m1: Scalar
    m2: Scalar
    l1: Scalar
    l2: Scalar


NOMINAL = ArmParameters(m1=2.0, m2=1.5, l1=0.5, l2=0.4)


def mass_matrix(q2: Scalar, a: ArmParameters) -> tuple[tuple[Scalar, Scalar], tuple[Scalar, Scalar]]:
    """Joint-space inertia M(q); it depends on the elbow angle q2 only."""
    lc1, lc2 = a.l1 / 2, a.l2 / 2
    i1, i2 = a.m1 * a.l1**2 / 12, a.m2 * a.l2**2 / 12
    c2 = ca.cos(q2)
    m11 = a.m1 * lc1**2 + a.m2 * (a.l1**2 + lc2**2 + 2 * a.l1 * lc2 * c2) + i1 + i2
    m12 = a.m2 * (lc2**2 + a.l1 * lc2 * c2) + i2
    m22 = a.m2 * lc2**2 + i2
    return (m11, m12), (m12, m22)


def coriolis_centrifugal(q2: Scalar, dq1: Scalar, dq2: Scalar, a: ArmParameters) -> tuple[Scalar, Scalar]:
    """Velocity-product torques C(q, qd) qd (from the Christoffel symbols of M)."""
    h = -a.m2 * a.l1 * (a.l2 / 2) * ca.sin(q2)
    return h * (2 * dq1 * dq2 + dq2**2), -h * dq1**2


def gravity_torque(q1: Scalar, q2: Scalar, a: ArmParameters) -> tuple[Scalar, Scalar]:
    """G(q): joint torques that hold the arm at rest against gravity."""
    lc1, lc2 = a.l1 / 2, a.l2 / 2
    outer = a.m2 * lc2 * GRAVITY * ca.cos(q1 + q2)
    return (a.m1 * lc1 + a.m2 * a.l1) * GRAVITY * ca.cos(q1) + outer, outer


def joint_accelerations(
    q1: Scalar, q2: Scalar, dq1: Scalar, dq2: Scalar, tau1: Scalar, tau2: Scalar, a: ArmParameters
) -> tuple[Scalar, Scalar]:
    """qdd = M(q)^-1 (tau - C qd - G), with the 2x2 inverse written out."""
    (m11, m12), (_, m22) = mass_matrix(q2, a)
    c1, c2 = coriolis_centrifugal(q2, dq1, dq2, a)
    g1, g2 = gravity_torque(q1, q2, a)
    r1, r2 = tau1 - c1 - g1, tau2 - c2 - g2
    det = m11 * m22 - m12 * m12
    return (m22 * r1 - m12 * r2) / det, (m11 * r2 - m12 * r1) / det


def robot_arm() -> Model:
    """The two-link arm, nx = 4 (q1, q2, dq1, dq2), nu = 2 (tau1, tau2), np = 4 (m1, m2, l1, l2)."""
    q1 = var("q1", -math.pi, math.pi, nominal=0.0, unit="rad")
    q2 = var("q2", -math.pi, math.pi, nominal=0.0, unit="rad")
    dq1 = var("dq1", -4.0, 4.0, nominal=0.0, unit="rad/s")
    dq2 = var("dq2", -4.0, 4.0, nominal=0.0, unit="rad/s")
    hold1, hold2 = gravity_torque(0.0, 0.0, NOMINAL)  # torques holding the nominal arm level
    tau1 = var("tau1", -30.0, 30.0, nominal=float(hold1), unit="N m")
    tau2 = var("tau2", -10.0, 10.0, nominal=float(hold2), unit="N m")
    params = (
        var("m1", 1.6, 2.4, nominal=NOMINAL.m1, unit="kg"),
        var("m2", 1.2, 1.8, nominal=NOMINAL.m2, unit="kg"),
        var("l1", 0.4, 0.6, nominal=NOMINAL.l1, unit="m"),
        var("l2", 0.32, 0.48, nominal=NOMINAL.l2, unit="m"),
    )
    arm = ArmParameters(*(p.symbol for p in params))
    ddq1, ddq2 = joint_accelerations(
        q1.symbol, q2.symbol, dq1.symbol, dq2.symbol, tau1.symbol, tau2.symbol, arm
    )
    return Model(
        "robot_arm",
        states=(q1, q2, dq1, dq2),
        inputs=(tau1, tau2),
        ode=[dq1.symbol, dq2.symbol, ddq1, ddq2],
        parameters=params,
        description="two-link planar arm in a vertical plane, uniform links, joint torques as inputs",
        reference=REFERENCE,
    )


def end_effector(q1: Scalar, q2: Scalar, a: ArmParameters) -> tuple[Scalar, Scalar]:
    """Position (x, y) [m] of the tip of link 2 in the base frame (forward kinematics)."""
    return (a.l1 * ca.cos(q1) + a.l2 * ca.cos(q1 + q2), a.l1 * ca.sin(q1) + a.l2 * ca.sin(q1 + q2))


TARGET = (-math.pi / 6, math.pi / 3)
"""Joint-angle target (q1, q2) [rad] of the OCP: link 1 30 degrees below horizontal,
link 2 bent 60 degrees up from it (30 degrees above horizontal), the tip at about
(0.78, -0.05) m."""

MAX_JOINT_SPEED = 3.0
"""Soft bound on |dq1| and |dq2| [rad/s]."""


def ocp(model: Model, target: tuple[float, float] = TARGET):
    """Point-to-point motion: hold the arm at rest at joint angles ``target``.

    The reference is the target at rest with the gravity-compensating torques
    u_ref = G(q_ref). Besides the joint-angle error (Q = diag(100, 100, 1, 1): angles
    dominate, velocities damp; slowest LQR pole about 0.9 per sample, a time constant
    of about 0.1 s), the end-effector position y = (x, y)(q) is tracked as a nonlinear
    least-squares output with W = diag(1000, 1000) per m^2 (1 cm of tip error costs
    about as much as 0.03 rad of joint error), so the cost also measures the error
    where the task is defined. R = 0.01 per (N m)^2 lets the torques use their range:
    |tau1| <= 30 N m, |tau2| <= 10 N m (the model's declared ranges; about 2 and 3.4
    times the torques that hold the nominal arm level). Joint speeds softly within
    +-MAX_JOINT_SPEED (the arm's declared velocity range is +-4 rad/s).
    N = 20 at Ts = 0.01 s (0.2 s ahead) with the Riccati terminal weight for the rest.
    ``model`` is the built :func:`robot_arm` whose symbols the output y uses.
    """
    from ..ocp import Ocp

    q1, q2, _, _ = ca.vertsplit(model.x)
    arm = ArmParameters(*ca.vertsplit(model.p))
    q_ref = [float(t) for t in target]
    hold = [float(t) for t in gravity_torque(*q_ref, NOMINAL)]
    tip = [float(c) for c in end_effector(*q_ref, NOMINAL)]
    fast = MAX_JOINT_SPEED
    return Ocp(
        N=20,
        Q=np.array([100.0, 100.0, 1.0, 1.0]),
        R=np.array([1e-2, 1e-2]),
        x_ref=q_ref + [0.0, 0.0],
        u_ref=hold,
        u_lo=[-30.0, -10.0],
        u_hi=[30.0, 10.0],
        x_lo=[-np.inf, -np.inf, -fast, -fast],
        x_hi=[np.inf, np.inf, fast, fast],
        y=ca.vertcat(*end_effector(q1, q2, arm)),
        W=np.array([1000.0, 1000.0]),
        y_ref=tip,
    )


def scenario(model: Model | None = None):
    """From hanging straight down at rest, q = (-pi/2, 0), to TARGET, 100 samples (1 s)."""
    from ..scenario import Scenario

    return Scenario("from hanging straight down at rest to the joint-angle target",
                    x0=(-math.pi / 2, 0.0, 0.0, 0.0), steps=100)
