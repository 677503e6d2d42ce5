"""Stage 3, the C code: lower CasADi's expressions, assemble the programs, render, write.

lower          CasADi SX instructions -> single-assignment C statements (double, float, complex):
               the only place that turns expressions into C text
model_program  the model's public functions and their blocks (F, dF_dx, ..., F_and_jacobians)
ocp_program    the OCP's functions y, h, h_N with their Jacobians (PREFIX_ocp.h/.c) and their complex twin
qp_program     the stage-wise QP's fixed layout and the solver's sizes
mpc_program    the controller: QP layout, the OCP's lowered functions, defaults, memory
render         the Jinja templates (top-level templates/) -> file texts
build_files    CMakeLists.txt, the Makefile fragment and example_main.c for firmware projects
manifest       mpcgen.json: what made a folder and its C API
folder         writing a folder atomically
generate       the pipeline: model and options in, a generated folder out
"""
