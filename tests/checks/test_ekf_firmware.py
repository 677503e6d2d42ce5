"""The generated EKF on an emulated Cortex-M4F: strict cross build, fixed work, same estimates as the host.

Skips, like tests/checks/test_firmware.py, only when the cross tools are not installed.
"""

from __future__ import annotations

import pytest

import mpcgen
from mpcgen.checks.firmware.build import missing_tools
from mpcgen.checks.firmware.ekf_budget import ekf_check, ekf_table

_MISSING = missing_tools(cross=True)


@pytest.mark.skipif(bool(_MISSING), reason=f"{', '.join(_MISSING)} not installed (make tools)")
def test_the_float_pendulum_ekf_on_the_m4f(tmp_path) -> None:
    folder = mpcgen.generate("pendulum", tmp_path / "pendulum", precision="float")
    b = ekf_check(folder)
    assert b.passed, (b.max_error, b.tolerance)              # the target's estimates are the host's
    assert b.target.core == "Cortex-M4F" and b.steps == 100
    assert 0 < b.update_median <= b.step_median <= b.step_max <= 1.2 * b.step_median   # fixed work per sample
    assert set(b.statuses) <= {0, 8}       # update ok or a gated-out measurement (1 * 8), predict ok
    assert b.ram == 424 and b.flash > 0    # PENDULUM_EKF_MEMORY_BYTES: the filter's static memory
    assert "Cortex-M4F" in ekf_table([b])
