"""Helpers the crane model file imports from its own folder."""

import casadi as ca

GRAVITY = 9.81  # m/s^2


def load_position(cart, length, theta):
    """(horizontal, vertical) position of the load; vertical is negative below the rail."""
    return cart + length * ca.sin(theta), -length * ca.cos(theta)
