"""Stage 2, the derivatives: CasADi discretizes the model and differentiates it.

discretize     explicit Runge-Kutta over one sample: the discrete model F(x, u, p)
jacobians      F and its Jacobians A, B, P as the C evaluates them (two formulations, the cheaper kept),
               and the independent reference for verification
ocp_functions  the OCP's outputs y and constraints h, h_N with their Jacobians
rounding       the same expressions with every constant rounded to float (verification of float builds)
"""
