"""Loading model files: a file imports helpers from its own folder, and nothing leaks."""

from __future__ import annotations

import sys
from pathlib import Path

import casadi as ca
from conftest import ROOT

from mpcgen.problem.source import load_source

CRANE = ROOT / "tests" / "data" / "crane" / "crane.py"

_MODEL = '''
from mpcgen import Model, var
from helpers import RATE

def plant():
    x = var("x", -1, 1)
    u = var("u", -1, 1)
    return Model("plant", [x], [u], [-RATE * x.symbol + u.symbol])

def plant_ocp(model):
    from helpers import weight   # imported when the OCP is built, after the file has loaded
    from mpcgen import Ocp
    return Ocp(N=5, Q=[[weight()]], R=[[1.0]], u_lo=[-1.0], u_hi=[1.0])
'''


def _model_folder(root: Path, rate: float) -> Path:
    root.mkdir()
    (root / "helpers.py").write_text(f"RATE = {rate}\n\ndef weight():\n    return {rate * 10}\n")
    (root / "plant.py").write_text(_MODEL)
    return root / "plant.py"


def test_a_model_file_imports_its_neighbours() -> None:
    source = load_source(f"{CRANE}:crane")
    assert source.model.nx == 6 and source.ocp is not None
    assert source.ocp(source.model).h is not None  # the OCP uses the helper's load_position


def test_nothing_leaks_into_later_loads(tmp_path: Path) -> None:
    first = _model_folder(tmp_path / "a", 2.0)
    second = _model_folder(tmp_path / "b", 5.0)
    path_before = list(sys.path)
    a = load_source(f"{first}:plant")
    assert "helpers" not in sys.modules and sys.path == path_before
    b = load_source(f"{second}:plant")
    def xdot(s) -> float:  # at x = 1, u = 0: -RATE
        return float(ca.Function("f", [s.model.x, s.model.u], [s.model.ode])(1.0, 0.0))

    assert (xdot(a), xdot(b)) == (-2.0, -5.0)
    # an OCP function that imports its helper when called gets its own folder's
    assert float(a.ocp(a.model).Q[0][0]) == 20.0 and float(b.ocp(b.model).Q[0][0]) == 50.0
    assert "helpers" not in sys.modules and sys.path == path_before
