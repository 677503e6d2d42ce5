"""A model file with a measurement model (used by tests/codegen/test_ekf.py and the README).

A pendulum on a fixed pivot, driven by a torque. A camera sees the horizontal position
of the bob, offset by a slowly drifting bias, and a gyro measures the rate. The bias is
an augmented state: its ODE is 0 and its process noise makes it a random walk, so the
EKF estimates it along with the angle.
"""

import casadi as ca

from mpcgen import Model, output, var

TS = 0.02   # default sample time for `mpcgen generate tests/data/user_sensors.py:swing`
LENGTH = 0.5


def swing() -> Model:
    """theta, omega and the camera bias (nx=3), a torque (nu=1); two sensors (ny=2)."""
    theta = var("theta", -3.0, 3.0, unit="rad")
    omega = var("omega", -8.0, 8.0, unit="rad/s")
    bias = var("bias", -0.1, 0.1, unit="m")                 # the camera's offset: a random walk
    tau = var("tau", -2.0, 2.0, unit="N m")
    th, w = theta.symbol, omega.symbol
    return Model(
        "swing",
        states=[theta, omega, bias],
        inputs=[tau],
        ode=[w, -9.81 / LENGTH * ca.sin(th) - 0.2 * w + tau.symbol, 0],
        # y = h(x, u, p): name, expression of the declared symbols, operating range, unit
        outputs=[output("bob_x", LENGTH * ca.sin(th) + bias.symbol, -0.6, 0.6, unit="m"),
                 output("gyro", omega, -8.0, 8.0, unit="rad/s")],
        # per sample, one standard deviation per state (or an nx x nx covariance)
        process_noise=[1e-3, 2e-2, 1e-4],
        # one standard deviation per output (or an ny x ny covariance)
        measurement_noise=[2e-3, 2e-2],
    )
