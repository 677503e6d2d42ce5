"""Stage 6, checks: verdicts on the compiled code (a check is a run and a verdict).

verification  every compiled function against CasADi, central and complex-step differences (mpcgen verify);
              verification_report holds what it found and prints the table
fuzz          the controller under libFuzzer with sanitizers, and valgrind (mpcgen fuzz)
ekf_stress    the EKF under random extreme calls: ASan + UBSan, valgrind memcheck (fuzz --valgrind)
firmware      strict builds, symbols, stack, and the run on an emulated Cortex-M (mpcgen firmware)
"""
