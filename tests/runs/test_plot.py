"""Closed-loop plots: a real PNG from a real closed loop; a clear error without matplotlib."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from mpcgen.derivatives.discretize import discrete_model
from mpcgen.errors import MpcgenError
from mpcgen.problem.examples import get_example
from mpcgen.problem.ocp import check_ocp
from mpcgen.problem.options import CodegenOptions
from mpcgen.runs.plot import plot_closed_loop
from mpcgen.runs.reference import IpoptMpc
from mpcgen.runs.simulate import simulate, simulate_scenario

try:
    import matplotlib  # noqa: F401  (the "test" extra installs it)
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False
needs_matplotlib = pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib not installed (pip install 'mpcgen[plot]')")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@needs_matplotlib
def test_plot_of_an_ideal_nmpc_pendulum_run(tmp_path) -> None:
    example, model = get_example("pendulum")
    options = CodegenOptions(ts=example.ts)
    ocp = check_ocp(model, example.ocp(model))
    result = simulate_scenario(model, IpoptMpc(ocp, options), example.scenario(model), example.ts, steps=20)
    path, created = plot_closed_loop(result, model, ocp, tmp_path / "plots" / "pendulum.png")
    assert created
    assert path == tmp_path / "plots" / "pendulum.png"
    width, height = png_size(path)
    assert 300 <= width <= 2000 and 600 <= height <= 3000, (width, height)
    assert path.stat().st_size > 20_000, "a figure with 6 panels of curves, not an empty canvas"
    assert [p.name for p in path.parent.iterdir()] == ["pendulum.png"], "no temporary file left behind"


@needs_matplotlib
def test_plot_with_many_states_uses_several_columns(tmp_path) -> None:
    example, model = get_example("chain")
    ocp = check_ocp(model, example.ocp(model), F=discrete_model(model, CodegenOptions(ts=example.ts)))
    result = simulate(model, lambda x: np.zeros(3), example.scenario(model).x0, example.ts, 5)
    width, height = png_size(plot_closed_loop(result, model, ocp, tmp_path / "chain.png")[0])
    assert width > height / 2, "25 panels are laid out in columns"


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch) -> None:
    example, model = get_example("pendulum")
    ocp = check_ocp(model, example.ocp(model))
    result = simulate(model, lambda x: np.zeros(1), [0.0, 0.1, 0.0, 0.0], example.ts, 2)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import raises ImportError
    with pytest.raises(MpcgenError, match=r"pip install 'mpcgen\[plot\]'"):
        plot_closed_loop(result, model, ocp, tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()
