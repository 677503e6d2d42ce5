"""mpcgen: code-generating nonlinear MPC with verified, flat, static C."""

__version__ = "0.1.0"
