"""tests/data/user_sensors.py's swing with correlated sensor noise (a full 2 x 2 covariance):
the generated EKF whitens y, h and H with the inverse Cholesky factor of R."""

import dataclasses

from user_sensors import TS, swing  # noqa: F401  (the file's folder is importable while it loads)


def correlated():
    return dataclasses.replace(swing(), name="correlated",
                               measurement_noise=[[4e-6, 2.4e-5], [2.4e-5, 4e-4]])   # correlation 0.6
