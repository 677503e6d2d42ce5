"""Shared fixtures: a private cffi cache per test session (never the source tree)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("mpcgen-cache")
    old = os.environ.get("MPCGEN_CACHE")
    os.environ["MPCGEN_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("MPCGEN_CACHE", None)
    else:
        os.environ["MPCGEN_CACHE"] = old


def compilers() -> list[str]:
    return [cc for cc in ("gcc", "clang") if shutil.which(cc)]


def example_problem(name: str):
    """(example, model, codegen options, checked OCP) of an example that ships an OCP."""
    from mpcgen.derivatives.discretize import discrete_model
    from mpcgen.problem.examples import get_example
    from mpcgen.problem.ocp import check_ocp
    from mpcgen.problem.options import CodegenOptions

    example, model = get_example(name)
    options = CodegenOptions(ts=example.ts)
    return example, model, options, check_ocp(model, example.ocp(model), discrete_model(model, options))


def folder_ocp(folder: Path):
    """(checked OCP, codegen options) a generated folder was made from."""
    from mpcgen.runs.closed_loop import folder_problem

    _, ocp, options, _ = folder_problem(folder)
    return ocp, options


def solve_beside_ipopt(ctrl, ocp, options, x0, **reference):
    """The shipped controller's converged solve from ``x0`` (status ok) and IPOPT's solution
    of the same OCP (``reference``: solve_reference's options): (X, U, IPOPT's solution)."""
    from mpcgen.runs.reference import solve_reference

    ctrl.set_initial_guess(x0)
    ctrl.solve(x0)
    assert ctrl.last_status == "ok", (x0, ctrl.stats)
    X, U = ctrl.trajectory()
    ref = solve_reference(ocp, options, x0, **reference)
    assert ref.success, ref.status
    return X, U, ref


@pytest.fixture(scope="session")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated folder (model and controller) of every example that ships an OCP."""
    import mpcgen
    from mpcgen.problem.examples import EXAMPLES

    root = tmp_path_factory.mktemp("controllers")
    return {name: mpcgen.generate(name, root / name) for name, ex in EXAMPLES.items() if ex.ocp is not None}


def assert_rejected_without_change(ctrl, call, message: str, x) -> None:
    """``call(ctrl)`` raises an EvaluationError containing ``message``, and the controller is
    as it was: a solve from ``x`` gives the control it gave before the call."""
    import numpy as np
    import pytest

    from mpcgen.errors import EvaluationError

    ctrl.set_initial_guess(x)
    before = ctrl.solve(x)
    with pytest.raises(EvaluationError) as caught:
        call(ctrl)
    assert message in str(caught.value)
    ctrl.set_initial_guess(x)
    np.testing.assert_allclose(ctrl.solve(x), before, rtol=1e-9, atol=1e-9)
