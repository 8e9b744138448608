"""Downsampled robot position history: on change beyond thresholds, at most once per interval.

Storing every fleet-state update costs a row per robot per publish (2 Hz in
the simulator, often more on a site); most of them repeat the last. A sample
is kept when the robot moved or turned, changed map or status, and the
interval since its last sample has passed. A robot's unchanged state (the
same validated object again, :mod:`fleetcore.contract.robot_reuse`) is
compared no more once it was sampled or found like the last sample: until the
robot's next sample, it stays so.
"""

from __future__ import annotations

import math

from fleetcore.contract.strict_fleet_state import AnyRobotState
from hub.derive.base import Output, PositionSample
from hub.derive.config import DeriveConfig

TURN_RAD = 0.35
"""A turn this large counts as a change even without moving (about 20°)."""


class PositionSampler:
    def __init__(self, config: DeriveConfig) -> None:
        self._config = config
        self._last: dict[tuple[str, str], PositionSample] = {}
        self._settled: dict[tuple[str, str], AnyRobotState] = {}
        """Per robot, a state that yields no sample until the robot's next sample."""

    def update(self, out: Output, fleet: str, name: str, state: AnyRobotState, now_ms: int) -> None:
        key = (fleet, name)
        if self._settled.get(key) is state:
            return
        loc = state.location
        if loc is None:
            return
        last = self._last.get(key)
        if last is not None:
            if now_ms - last.time_ms < self._config.position_interval_ms:
                return
            moved = math.hypot(last.x - loc.x, last.y - loc.y) >= self._config.position_distance_m
            turned = abs(math.remainder(last.yaw - loc.yaw, math.tau)) >= TURN_RAD
            if not (moved or turned or last.map != loc.map or last.status != state.status):
                self._settled[key] = state
                return
        sample = PositionSample(
            fleet, name, now_ms, loc.map, loc.x, loc.y, loc.yaw, state.status, state.battery
        )
        self._last[key] = sample
        self._settled[key] = state
        out.samples.append(sample)
