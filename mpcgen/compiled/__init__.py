"""Stage 4, compiled: the generated C built with cffi into a cache and called from numpy.

build               cffi API-mode builds, cached by a hash of sources and flags, safe under concurrency
model_binding       the model's functions (CompiledModel, load_model)
controller_binding  the MPC controller (Controller, load)
qp_binding          the QP solver alone, for a given layout (tests against qpOASES)
"""
