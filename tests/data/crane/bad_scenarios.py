"""Model files whose scenario is wrong, one mistake each (the crane of crane.py)."""

from crane import TS, crane_ocp
from crane import crane as late_step
from crane import crane as short_x0
from crane import crane as not_a_scenario
from crane import crane as scenario_raises

from mpcgen import Scenario

__all__ = ["TS", "late_step", "short_x0", "not_a_scenario", "scenario_raises"]

late_step_ocp = short_x0_ocp = not_a_scenario_ocp = scenario_raises_ocp = crane_ocp


def late_step_scenario(model):
    return Scenario("a step after the end", x0=(0.0, 0.0, 1.5, 0.0, 0.0, 0.0), steps=50,
                    reference_steps=((80, (1.0, 0.0, 1.0, 0.0, 0.0, 0.0)),))


def short_x0_scenario(model):
    return Scenario("three of six states", x0=(0.0, 0.0, 1.5), steps=50)


def not_a_scenario_scenario(model):
    return {"x0": (0.0,) * 6}


def scenario_raises_scenario(model):
    return Scenario("a typo", x0=model.x0_typo, steps=10)
