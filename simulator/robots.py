"""A simulated robot: pose, battery, status and the route it is driving.

A robot knows only kinematics and its battery. What it drives to and why
(tasks, charging, lifts) is decided by :mod:`simulator.simulation`, so this
module stays a small, directly testable physics step.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fleetcore.settings import DEFAULTS
from simulator.building import Vertex


@dataclass(frozen=True, slots=True)
class RobotProfile:
    """Physical constants of a fleet's robots."""

    speed_mps: float = DEFAULTS.sim_robot_speed_mps
    drain_per_m: float = 0.0008
    """Battery fraction used per metre driven."""
    idle_drain_per_s: float = 0.00005
    charge_per_s: float = 0.01
    recharge_below: float = 0.4
    """An idle robot under this battery level drives to a charger."""
    charged_at: float = 0.98
    """Charging stops here."""
    task_reserve: float = 0.15
    """A task is given only to a robot left with at least this much after it."""


@dataclass(frozen=True, slots=True)
class Waypoint:
    level: str
    x: float
    y: float
    vertex: str = ""
    """The graph vertex this waypoint is, or empty for free motion (cleaning)."""

    @classmethod
    def of(cls, v: Vertex) -> Waypoint:
        return cls(v.level, v.x, v.y, v.name)


@dataclass(slots=True)
class SimRobot:
    fleet: str
    name: str
    level: str
    x: float
    y: float
    yaw: float
    battery: float
    profile: RobotProfile
    vertex: str
    """The last vertex reached; where planning starts from."""
    status: str = "idle"
    task_id: str = ""
    route: deque[Waypoint] = field(default_factory=deque)
    speed_factor: float = 1.0
    stopped: bool = False
    """Simulates a robot (or its link) gone dark: it neither moves nor reports."""
    commissioned: bool = True
    charging_errand: bool = False
    """Driving to a charger or charging there, outside any task."""
    issues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def needs_lift(self) -> bool:
        """The next waypoint is on another level: only a lift can take the robot there."""
        return bool(self.route) and self.route[0].level != self.level

    def advance(self, dt: float) -> float:
        """Drive along the route for ``dt`` seconds; return the metres driven.

        Stops in front of a level change (a lift hop) and at the route's end.
        Yaw points along the lane being driven.
        """
        budget = self.profile.speed_mps * self.speed_factor * dt
        driven = 0.0
        while budget > 1e-9 and self.route and not self.needs_lift:
            target = self.route[0]
            dx, dy = target.x - self.x, target.y - self.y
            gap = math.hypot(dx, dy)
            if gap > 1e-9:
                self.yaw = math.atan2(dy, dx)
            if gap <= budget:
                self.x, self.y = target.x, target.y
                budget -= gap
                driven += gap
                if target.vertex:
                    self.vertex = target.vertex
                self.route.popleft()
            else:
                self.x += dx / gap * budget
                self.y += dy / gap * budget
                driven += budget
                budget = 0.0
        return driven

    def drain(self, metres: float, dt: float) -> None:
        used = metres * self.profile.drain_per_m + dt * self.profile.idle_drain_per_s
        self.battery = max(0.0, self.battery - used)

    def charge(self, dt: float) -> None:
        self.battery = min(1.0, self.battery + dt * self.profile.charge_per_s)

    def state(self, now_ms: int) -> dict[str, Any]:
        """RMF robot_state JSON."""
        return {
            "name": self.name,
            "status": self.status,
            "task_id": self.task_id,
            "unix_millis_time": now_ms,
            "location": {
                "map": self.level,
                "x": round(self.x, 3),
                "y": round(self.y, 3),
                "yaw": round(self.yaw, 4),
            },
            "battery": round(self.battery, 4),
            "issues": list(self.issues),
            "commission": {
                "dispatch_tasks": self.commissioned,
                "direct_tasks": self.commissioned,
                "idle_behavior": self.commissioned,
            },
        }
