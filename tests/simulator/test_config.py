"""The simulator's settings: robot speed and hand-over failures, checked when the simulation is built."""

from __future__ import annotations

import pytest

from fleetcore.errors import ConfigError
from fleetcore.settings import Settings
from simulator import SimConfig


def test_the_robot_speed_setting_drives_the_simulated_robots() -> None:
    config = SimConfig.from_settings(Settings(sim_robot_speed_mps=3.5))
    assert config.profile.speed_mps == 3.5


def test_a_speed_that_is_not_positive_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SIM_ROBOT_SPEED_MPS"):
        SimConfig.from_settings(Settings(sim_robot_speed_mps=0))


@pytest.mark.parametrize("probability", [-0.1, 1.5])
def test_a_failure_probability_outside_0_to_1_is_a_config_error(probability: float) -> None:
    with pytest.raises(ConfigError, match="SIM_TASK_FAILURE_PROBABILITY"):
        SimConfig.from_settings(Settings(sim_task_failure_probability=probability))
