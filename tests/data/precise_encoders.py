"""The pendulum with encoders 500 times finer than the example's (10 um, 10 urad).

The posterior variance of p and theta is then about 1e-10 against prior variances of
1e-6 and more: a float covariance update has to keep definiteness across that range
(tests/codegen/test_ekf.py). The same OCP and scenario as the example.
"""

import dataclasses

from mpcgen.problem.examples.pendulum import TS, ocp, pendulum, scenario  # noqa: F401


def precise():
    return dataclasses.replace(pendulum(), name="precise", measurement_noise=(1e-5, 1e-5))


def precise_ocp(model):
    return ocp(model)
