"""Stage 6, checks: verdicts on the compiled code (a check is a run and a verdict).

verification  the compiled functions against CasADi, central and complex-step differences (mpcgen verify)
fuzz          the controller under libFuzzer with sanitizers, and valgrind (mpcgen fuzz)
firmware      strict builds, symbols, stack, and the run on an emulated Cortex-M (mpcgen firmware)
"""
