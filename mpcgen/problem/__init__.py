"""Stage 1, the problem: what the user describes.

model     the plant: states, inputs, parameters (Var, with ranges and units) and the ODE
ocp       the optimal-control problem: horizon, cost, constraints (Ocp; check_ocp validates it)
options   how to generate: sample time, precision, integrator, substeps (CodegenOptions)
scenario  a closed-loop run: initial state, length, plant mismatch, noise
source    finding a model: an example name or path/to/file.py:function
examples  the example plants from the literature, each with its OCP and scenario
"""
