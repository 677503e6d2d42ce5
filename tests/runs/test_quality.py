"""The fixed-work real-time controller controls as well as the converged one (mpcgen.runs.quality)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mpcgen
from mpcgen.runs.quality import COST_RATIO, Quality, Score, closed_loop_quality


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float", "double"])
@pytest.mark.parametrize(("name", "horizon"), [("pendulum", None), ("quadrotor", 10)])
def test_real_time_step_is_within_3_percent_of_the_converged_loop(tmp_path: Path, name: str, horizon: int | None,
                                                                  precision: str) -> None:
    # the quadrotor at N = 10: the firmware budget's configuration
    folder = mpcgen.generate(name, tmp_path / name, precision=precision, horizon=horizon)
    q = closed_loop_quality(folder)
    assert not q.problems(), q.problems()
    assert q.ratio <= COST_RATIO and q.real_time.input_violation == 0.0
    assert q.real_time.soft_violation <= q.converged.soft_violation + 0.01
    assert set(q.real_time.statuses) == {"ok"}
    # the swing-up ends upright, the quadrotor hovers at its 1 m step
    assert q.real_time.final_error < 1e-3


def _score(cost: float, u: float = 0.0, soft: float = 0.0, final: float = 0.0) -> Score:
    return Score(cost, u, soft, final, ("ok",))


def test_acceptance_rules_name_what_is_wrong() -> None:
    good = Quality("m", "float", 10, "", _score(1.02), _score(1.0), None)
    assert good.problems() == []
    costly = Quality("m", "float", 10, "", _score(1.05), _score(1.0), None)
    assert "1.0500 x the converged" in costly.problems()[0]
    outside = Quality("m", "float", 10, "", _score(1.0, u=1e-6, soft=0.2, final=0.5), _score(1.0, soft=0.1), None)
    problems = " ".join(outside.problems())
    assert "left its bounds" in problems and "soft-state violation" in problems and "final distance" in problems
