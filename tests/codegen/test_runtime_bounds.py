"""Bounds that change at run time (``Ocp(runtime_bounds=True)``): per-stage input and state
bounds set on the shipped controller give IPOPT's solution of the OCP with the same
per-stage bounds, hold in closed loop, and are checked (lo <= hi, rows only); a
controller generated without them has no setters and no extra memory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, assert_rejected_without_change, folder_ocp, solve_beside_ipopt

import mpcgen
from mpcgen.codegen.manifest import read_manifest
from mpcgen.derivatives.discretize import discrete_model
from mpcgen.errors import EvaluationError
from mpcgen.problem.ocp import check_ocp
from mpcgen.problem.source import load_source
from mpcgen.runs.reference import StageBounds

CRANE = ROOT / "tests" / "data" / "crane" / "crane.py"
START = np.array([0.0, 0.0, 1.5, 0.0, 0.0, 0.0])
INF = np.inf
#: the crane's soft state bounds: rows for vc, l, vl and theta; xc and omega have none
X_LO = np.array([-INF, -1.5, 0.6, -0.8, -0.5, -INF])
X_HI = np.array([INF, 1.5, 2.5, 0.8, 0.5, INF])


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bounds")
    return {"fixed": mpcgen.generate(f"{CRANE}:crane", root / "fixed"),
            "runtime": mpcgen.generate(f"{CRANE}:crane_bounds", root / "runtime"),
            "runtime-float": mpcgen.generate(f"{CRANE}:crane_bounds", root / "runtime-float", precision="float")}


@pytest.mark.parametrize("precision", ["runtime", "runtime-float"])
def test_per_stage_bounds_match_ipopt(folders: dict[str, Path], precision: str) -> None:
    """Tighter carriage acceleration over the first 10 stages and a slower cart (soft) from
    stage 5 on: the converged SQP of the shipped C and IPOPT agree on the same problem."""
    ctrl = mpcgen.load(folders[precision])
    ocp, options = folder_ocp(folders[precision])
    bounds = StageBounds.of(ocp)
    tight_u = (np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    for k in range(10):
        ctrl.set_u_bounds(*tight_u, stage=k)
        bounds.u_lo[k], bounds.u_hi[k] = tight_u
    slow_lo, slow_hi = X_LO.copy(), X_HI.copy()
    slow_lo[1], slow_hi[1] = -0.4, 0.4
    for k in range(5, ocp.N + 1):
        ctrl.set_x_bounds(slow_lo, slow_hi, stage=k)
        bounds.x_lo[k], bounds.x_hi[k] = slow_lo, slow_hi
    ctrl.configure(sqp_max_iter=100)
    X, U, ref = solve_beside_ipopt(ctrl, ocp, options, START, bounds=bounds)
    tol = 1e-5 if precision == "runtime" else 2e-2   # float: its QP tolerance 1e-4
    np.testing.assert_allclose(U, ref.U, atol=tol * 6.0)     # of the input ranges (6, 2)
    np.testing.assert_allclose(X, ref.X, atol=tol * 3.0)
    assert (np.abs(U[:10, 0]) <= 1.0 + 1e-6).all() and U[0, 0] == pytest.approx(1.0, abs=tol)   # active
    assert np.abs(X[5:, 1]).max() <= 0.4 + 10 * tol
    # back to the OCP's bounds, every stage at once: the OCP's solution again
    ctrl.set_u_bounds([-3.0, -1.0], [3.0, 1.0])
    ctrl.set_x_bounds(X_LO, X_HI)
    _, U, default = solve_beside_ipopt(ctrl, ocp, options, START)
    np.testing.assert_allclose(U, default.U, atol=tol * 6.0)
    assert default.U[0, 0] > 2.0   # unbounded by the tight rows, the carriage accelerates harder


def test_bound_tightened_in_closed_loop_holds_from_then_on(folders: dict[str, Path]) -> None:
    ctrl = mpcgen.load(folders["runtime"])
    ocp, options = folder_ocp(folders["runtime"])
    plant = discrete_model(ocp.model, options)
    p = np.array([v.nominal_value for v in ocp.model.parameters])
    x = START.copy()
    ctrl.start(x)
    U = []
    for k in range(60):
        if k == 20:   # the winch's drive derated: |b| <= 0.2 from now on
            ctrl.set_u_bounds([-3.0, -0.2], [3.0, 0.2])
        u = ctrl.step(x)
        assert ctrl.last_status in ("ok", "max_iter")
        U.append(u)
        x = np.array(plant(x, u, p)).reshape(-1)
    U = np.array(U)
    assert np.abs(U[:20, 1]).max() > 0.5          # it used the winch before
    assert np.abs(U[20:, 1]).max() <= 0.2 + 1e-12  # and never beyond the new bound after


#: (call on a runtime-bounds controller, the message)
BAD = [
    (lambda c: c.set_u_bounds([1.0, 0.0], [-1.0, 1.0]), "u_lo[0] = 1 > u_hi[0] = -1"),
    (lambda c: c.set_u_bounds([np.nan, 0.0], [1.0, 1.0]), "u_lo or u_hi has NaN"),
    (lambda c: c.set_u_bounds([-INF, -1.0], [1.0, 1.0]), "each bound the OCP had finite must be finite"),
    (lambda c: c.set_u_bounds([-1.0, -1.0], [1.0, 1.0], stage=30), "stage 30 is not one of 0..29"),
    (lambda c: c.set_x_bounds(np.where(np.isfinite(X_LO), X_LO, -5.0), X_HI),
     "each it had infinite must stay infinite (it has no row in the QP)"),
    (lambda c: c.set_x_bounds(X_LO, X_HI, stage=0), "stage 0 is not one of 1..30"),
    (lambda c: c.set_x_bounds(X_LO, X_HI[:3]), "x_hi has 3 entries, the controller needs 6"),
]


@pytest.mark.parametrize("call, message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_bounds_are_rejected_and_change_nothing(folders: dict[str, Path], call, message: str) -> None:
    assert_rejected_without_change(mpcgen.load(folders["runtime"]), call, message, START)


def test_without_runtime_bounds_nothing_is_emitted(folders: dict[str, Path]) -> None:
    """Emit only what is used: the fixed-bounds controller has no setters and one bound per
    row, not per stage, in its static memory."""
    header = (folders["fixed"] / "crane_mpc.h").read_text()
    assert "set_u_bounds" not in header and "set_x_bounds" not in header
    assert "crane_mpc_set_u_bounds" in (folders["runtime"] / "crane_mpc.h").read_text()
    fixed = read_manifest(folders["fixed"])["interfaces"]["controller"]["memory_bytes"]
    runtime = read_manifest(folders["runtime"])["interfaces"]["controller"]["memory_bytes"]
    N, nbu, nbx, nu = 30, 4, 8, 2
    assert runtime - fixed == 8 * ((N - 1) * nbu + N * nbx + 2 * N * nu)
    with pytest.raises(EvaluationError, match="generate it from an Ocp with runtime_bounds=True"):
        mpcgen.load(folders["fixed"]).set_u_bounds([-1.0, -1.0], [1.0, 1.0])


def test_runtime_bounds_must_be_a_bool() -> None:
    from mpcgen.problem.ocp import OcpError

    loaded = load_source(f"{CRANE}:crane")
    with pytest.raises(OcpError, match="runtime_bounds must be True or False, got 'yes'"):
        check_ocp(loaded.model, dataclasses.replace(loaded.ocp(loaded.model), runtime_bounds="yes"))


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["runtime", "runtime-float"])
def test_fuzzing_the_bounds_setters_finds_no_failure(folders: dict[str, Path], tmp_path: Path, precision: str) -> None:
    """The fuzz harness calls set_u_bounds and set_x_bounds among the other calls, with its
    own oracle of their statuses, and keeps the control within stage 0's bounds as set."""
    import shutil

    from mpcgen.checks.fuzz import fuzz

    if shutil.which("clang") is None:
        pytest.skip("clang (libFuzzer) not installed: make tools")
    harness = (ROOT / "templates" / "fuzz_main.c.j2").read_text()
    assert "mpc_set_u_bounds(k, lo, hi)" in harness
    result = fuzz(folders[precision], seconds=4.0, seed=1, artifacts=tmp_path)
    assert result.passed, result.report
