"""VDA 5050 vehicles as RMF robots: which fleet each is in, and its state as rmf_api_msgs robot_state.

Configuration maps ``manufacturer/serialNumber`` to ``fleet/robot``
(``vda5050_vehicles``); a vehicle nobody named joins ``vda5050_default_fleet``
as its serial number, or is refused when that is empty. Both are counted.

A state is taken only if it is newer than the last one taken from the
vehicle: ``headerId`` grows by one with each message a vehicle sends, so a
lower or equal one is a late or repeated delivery and is dropped (counted,
not an error). A vehicle that restarted counts from 0 again: its new
``connection ONLINE`` resets the count, and so does a lower ``headerId``
with a later ``timestamp`` (a restart whose ONLINE we missed). The
``connection`` topic is exempt: its last will is written at connect time,
so its header is always old (spec 6.14).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetcore.contract.vda5050 import VehicleId, v2
from fleetcore.contract.vda5050.marks import MARK
from fleetcore.contract.vda5050.topics import check_level
from fleetcore.errors import ConfigError

AUTOMATIC_MODES = frozenset({"AUTOMATIC", "SEMIAUTOMATIC"})
"""Operating modes in which the master control is in charge (spec table 1)."""
BUSY_ACTIONS = frozenset({"WAITING", "INITIALIZING", "RUNNING", "PAUSED"})
IN_SERVICE = {"dispatch_tasks": True, "direct_tasks": True, "idle_behavior": True}


def parse_vehicle_map(text: str) -> dict[VehicleId, tuple[str, str]]:
    """``acme/0001=fleetA/agv1, acme/0002=fleetA/agv2`` as ``{VehicleId: (fleet, robot)}``."""
    mapping: dict[VehicleId, tuple[str, str]] = {}
    robots: set[tuple[str, str]] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        vehicle, _, robot = item.partition("=")
        manufacturer, _, serial = vehicle.strip().partition("/")
        fleet, _, name = robot.strip().partition("/")
        if not (manufacturer and serial and fleet and name):
            raise ConfigError(
                f"FLEETHUB_VDA5050_VEHICLES: {item!r} is not manufacturer/serialNumber=fleet/robot"
            )
        key = VehicleId(
            check_level(manufacturer, "a vehicle's manufacturer"),
            check_level(serial, "a vehicle's serial number"),
        )
        if key in mapping or (fleet, name) in robots:
            raise ConfigError(f"FLEETHUB_VDA5050_VEHICLES: {item!r} is named twice")
        mapping[key] = (fleet, name)
        robots.add((fleet, name))
    return mapping


@dataclass(slots=True)
class Vehicle:
    """What the master control knows of one vehicle."""

    id: VehicleId
    fleet: str
    robot: str
    connection: str = "OFFLINE"
    state: v2.State | None = None
    state_monotonic: float = 0.0
    """When the last state was taken (``time.monotonic``)."""
    factsheet: v2.Factsheet | None = None
    last_header: int = -1
    last_timestamp: datetime | None = None
    task_id: str = ""
    errors: set[tuple[str, str]] = field(default_factory=set)
    """``(errorType, errorLevel)`` of the errors in the last state, to log only changes."""
    infos: set[tuple[str, str]] = field(default_factory=set)
    visual: v2.AgvPosition | None = None
    """The position from ``visualization``, when newer than the state's."""
    traffic_issues: dict[str, str] = field(default_factory=dict)
    """Traffic control's issues with the vehicle (``traffic_blocked``, ``traffic_deadlock``)."""
    commission: dict[str, bool] = field(default_factory=lambda: dict(IN_SERVICE))
    """rmf_api_msgs commission: whether it takes dispatched and direct tasks (operators')."""

    @property
    def online(self) -> bool:
        return self.connection == "ONLINE"

    def fresh(self, now: float, timeout_s: float) -> bool:
        """Online and heard from lately: shown in its fleet's state."""
        return self.online and self.state is not None and now - self.state_monotonic <= timeout_s

    def take(self, state: v2.State, now: float) -> bool:
        """Take ``state`` if it is newer than the last (see the module doc); False if it is not."""
        newer = state.headerId > self.last_header or (
            self.last_timestamp is not None and state.timestamp > self.last_timestamp
        )
        if not newer:
            return False
        self.last_header = state.headerId
        self.last_timestamp = state.timestamp
        self.state = state
        self.state_monotonic = now
        self.visual = None
        return True

    def see(self, position: v2.AgvPosition) -> None:
        """A ``visualization`` position: shown until the next state brings its own."""
        if self.state is not None:
            self.visual = position

    def connected(self, state: str) -> None:
        """A ``connection`` message: an ONLINE may follow a restart, so the header count resets."""
        self.connection = state
        if state == "ONLINE":
            self.last_header = -1
            self.last_timestamp = None

    @property
    def fatal(self) -> list[v2.Error]:
        return [e for e in self.state.errors if e.errorLevel == "FATAL"] if self.state else []

    @property
    def ready(self) -> bool:
        """Able to drive an order for the master control: online, in automatic mode, no fatal
        error, not paused, located, no e-stop; whether or not it has one now."""
        state = self.state
        if state is None or not self.online:
            return False
        if state.operatingMode not in AUTOMATIC_MODES or self.fatal or state.paused:
            return False
        if state.agvPosition is None or not state.agvPosition.positionInitialized:
            return False
        return state.safetyState.eStop == "NONE"

    @property
    def idle(self) -> bool:
        """Ready for a new order: :attr:`ready`, and nothing left of its last order."""
        state = self.state
        if state is None or self.task_id or not self.ready:
            return False
        return not state.nodeStates and not any(
            a.actionStatus in BUSY_ACTIONS for a in state.actionStates
        )

    def robot_state(self, now_ms: int) -> dict[str, Any]:
        """rmf_api_msgs robot_state of the last state taken."""
        state = self.state
        assert state is not None
        doc: dict[str, Any] = {
            "name": self.robot,
            "status": self._status(state),
            "task_id": self.task_id,
            "unix_millis_time": now_ms,
            "battery": round(v2.battery_fraction(state), 4),
            "issues": _issues(state)
            + [{"category": c, "detail": d} for c, d in sorted(self.traffic_issues.items())],
            "commission": dict(self.commission),
            MARK: {"vehicle": str(self.id), "paused": bool(state.paused)},
        }
        position = self.visual or state.agvPosition
        if position is not None:
            doc["location"] = {
                "map": position.mapId,
                "x": round(position.x, 3),
                "y": round(position.y, 3),
                "yaw": round(position.theta, 4),
            }
        return doc

    def _status(self, state: v2.State) -> str:
        if self.fatal or state.safetyState.eStop != "NONE":
            return "error"
        if state.batteryState.charging:
            return "charging"
        if self.task_id or state.driving or state.nodeStates:
            return "working"
        return "idle"


def _issues(state: v2.State) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = [
        {
            "category": error.errorType,
            "detail": {
                "level": error.errorLevel,
                "description": error.errorDescription or "",
                "hint": error.errorHint or "",
                "references": {
                    r.referenceKey: r.referenceValue for r in error.errorReferences or []
                },
            },
        }
        for error in state.errors
    ]
    if state.operatingMode not in AUTOMATIC_MODES:
        issues.append({"category": "operatingMode", "detail": state.operatingMode})
    if state.paused:
        issues.append({"category": "paused", "detail": "the vehicle is paused"})
    if state.safetyState.eStop != "NONE":
        issues.append({"category": "eStop", "detail": state.safetyState.eStop})
    if state.safetyState.fieldViolation:
        issues.append({"category": "fieldViolation", "detail": "protective field violated"})
    return issues
