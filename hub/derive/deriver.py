"""The Deriver: one pure state machine over accepted ingest messages and clock ticks.

``observe(message, received_ms)`` and ``tick(now_ms)`` are its only inputs
and an :class:`Output` its only result, so replaying the same inputs with
the same times derives the same events: that is what the replay test pins.
The hub owns the clock and does the I/O; :class:`Snapshot` is what it
restores from the database on start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetcore.contract.ingest import IngestMessage, IngestType
from fleetcore.contract.strict_fleet_state import AnyFleetState
from hub.derive.alerts import AlertBook
from hub.derive.base import Output
from hub.derive.config import DeriveConfig
from hub.derive.connectivity import ConnectivityTracker, Link, RobotKey
from hub.derive.escalation import Escalation
from hub.derive.health import HealthTracker, RobotHealth
from hub.derive.positions import PositionSampler
from hub.derive.reassign import ReassignPolicy
from hub.derive.tasks import TaskTracker, TrackedTask


@dataclass(slots=True)
class Snapshot:
    """Derivation state as the database remembers it, for a hub that (re)starts at ``start_ms``."""

    start_ms: int
    links: dict[RobotKey, Link] = field(default_factory=dict)
    health: dict[RobotKey, RobotHealth] = field(default_factory=dict)
    open_alerts: dict[str, str] = field(default_factory=dict)
    """Condition → alert id of derived alerts not yet resolved."""
    tasks: dict[str, TrackedTask] = field(default_factory=dict)
    finished_tasks: list[str] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)
    reassigned: set[str] = field(default_factory=set)


class Deriver:
    def __init__(self, config: DeriveConfig, snapshot: Snapshot | None = None) -> None:
        self.config = config
        self.alerts = AlertBook(snapshot.open_alerts if snapshot else None)
        self.connectivity = ConnectivityTracker(config, self.alerts)
        self.health = HealthTracker(config, self.alerts)
        self.tasks = TaskTracker(config, self.alerts)
        self.escalation = Escalation(config, self.alerts, self._robots_down)
        self.reassign = ReassignPolicy(config.reassign)
        self.positions = PositionSampler(config)
        if snapshot is not None:
            self.connectivity.restore(snapshot.links, snapshot.start_ms)
            self.health.restore(snapshot.health)
            self.tasks.restore(snapshot.tasks, snapshot.finished_tasks)
            self.escalation.restore(snapshot.failures)
            self.reassign.reassigned |= snapshot.reassigned

    def observe(self, message: IngestMessage, received_ms: int) -> Output:
        out = Output()
        if message.type is IngestType.FLEET_STATE:
            self._fleet_state(out, message.data, received_ms)
        elif message.type is IngestType.TASK_STATE:
            if self.tasks.update(out, message.data, received_ms) == "failed":
                task = message.data
                fleet = task.assigned_to.group if task.assigned_to else None
                if fleet is not None:
                    self.escalation.failure(out, fleet, received_ms)
        return out

    def tick(self, now_ms: int) -> Output:
        out = Output()
        for fleet, robot in self.connectivity.tick(out, now_ms):
            self.escalation.failure(out, fleet, now_ms)
            self.reassign.robot_down(out, fleet, robot, self.tasks.active_on(fleet, robot), now_ms)
        down = {key for key, link in self.connectivity.robots.items() if link.state is Link.OFFLINE}
        self.tasks.tick(out, now_ms, down)
        self.health.tick(out, now_ms)
        self.escalation.tick(out, now_ms)
        return out

    def _fleet_state(self, out: Output, fleet: AnyFleetState, now_ms: int) -> None:
        for name, state in fleet.robots.items():
            self.connectivity.seen(out, fleet.name, name, now_ms)
            if self.health.update(out, fleet.name, name, state, now_ms):
                self.escalation.failure(out, fleet.name, now_ms)
                self.reassign.robot_down(
                    out, fleet.name, name, self.tasks.active_on(fleet.name, name), now_ms
                )
            self.positions.update(out, fleet.name, name, state, now_ms)

    def _robots_down(self, fleet: str) -> int:
        offline = sum(
            1
            for (f, _), link in self.connectivity.robots.items()
            if f == fleet and link.state is Link.OFFLINE
        )
        errors = sum(1 for (f, _), h in self.health.robots.items() if f == fleet and h.error)
        return offline + errors
