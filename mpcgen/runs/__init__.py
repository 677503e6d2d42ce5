"""Stage 5, runs: the compiled code in closed loop and on the clock.

simulate          the plant integrated accurately; any controller in closed loop
reference         IPOPT's solutions of the same OCP, and the ideal NMPC that solves it every sample
closed_loop       a generated folder's controller against its plant (mpcgen simulate)
plot              a closed loop as a PNG
model_bench       F_and_jacobians against CasADi's generated C (mpcgen bench)
controller_bench  controller steps timed in C against CasADi's solvers (mpcgen bench-mpc)
"""
