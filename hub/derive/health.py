"""Robot health from its reported state: stuck, battery low/critical, error status, issues."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from fleetcore.contract.strict_fleet_state import AnyRobotState
from hub.derive.alerts import AlertBook
from hub.derive.base import Event, Output
from hub.derive.config import DeriveConfig


class Battery(enum.StrEnum):
    NORMAL = "normal"
    LOW = "low"
    CRITICAL = "critical"


def battery_level(config: DeriveConfig, current: Battery, charge: float) -> Battery:
    """The next battery level: thresholds inclusive going down, plus hysteresis coming back up.

    A level is left upwards only above its threshold plus the hysteresis, so
    a battery hovering around a threshold does not flap.
    """
    low, critical, margin = config.battery_low, config.battery_critical, config.battery_hysteresis
    if charge <= critical:
        return Battery.CRITICAL
    if current is Battery.CRITICAL and charge <= critical + margin:
        return Battery.CRITICAL
    if charge <= low:
        return Battery.LOW
    if current is not Battery.NORMAL and charge <= low + margin:
        return Battery.LOW
    return Battery.NORMAL


@dataclass(slots=True)
class RobotHealth:
    battery: Battery = Battery.NORMAL
    error: bool = False
    issues: set[tuple[str, str]] = field(default_factory=set)
    anchor: tuple[str, float, float] | None = None
    """Where the robot was when it last moved (map, x, y)..."""
    anchor_ms: int = 0
    """...and when: stuck once it has worked this long without leaving the anchor."""
    working: bool = False
    stuck: bool = False
    seen: bool = False
    """Whether this hub has had a state of the robot (False for one restored from alerts)."""
    applied: AnyRobotState | None = field(default=None, compare=False, repr=False)
    """The last state applied: applying the very same (unchanged) state again changes nothing."""


def _issue_set(state: AnyRobotState) -> set[tuple[str, str]]:
    return {(i.category or "", str(i.detail or "")) for i in state.issues or []}


ALERTING_ISSUES = frozenset({"traffic_blocked"})
"""Issue categories that also open a warning alert while they last: the VDA 5050 master
control's ``traffic_blocked`` (a vehicle its traffic control held back past
``vda5050_blocked_alert_s``) needs an operator, most issues clear by themselves."""


def condition(kind: str, fleet: str, robot: str) -> str:
    return f"{kind}/{fleet}/{robot}"


class HealthTracker:
    def __init__(self, config: DeriveConfig, alerts: AlertBook) -> None:
        self._config = config
        self._alerts = alerts
        self.robots: dict[tuple[str, str], RobotHealth] = {}
        self._watch = max(config.battery_low, config.battery_critical)
        """A normal battery above this charge stays normal (:func:`battery_level`)."""

    def restore(self, health: dict[tuple[str, str], RobotHealth]) -> None:
        """Robots whose open alerts say how they were; issues are not stored, see :meth:`update`."""
        self.robots.update(health)
        self._adopt_issues = True

    _adopt_issues = False
    """After a restart the issues robots already had are adopted silently, not raised again."""

    def update(self, out: Output, fleet: str, name: str, state: AnyRobotState, now_ms: int) -> bool:
        """Apply one robot state; returns True when the robot just entered error.

        A robot's unchanged state (ingest hands over the same validated object,
        :mod:`fleetcore.contract.robot_reuse`) is not applied again: every step
        below leaves a robot as it is when given the state it was last given,
        the stuck timer included (:meth:`tick` marks only a working robot stuck,
        and the same state neither moves it nor stops its work).
        """
        health = self.robots.get((fleet, name))
        if health is not None and health.applied is state:
            return False
        if health is None or (self._adopt_issues and not health.seen):
            health = health or RobotHealth()
            self.robots[(fleet, name)] = health
            if self._adopt_issues:
                health.issues = _issue_set(state)
        health.seen = True
        # Most states change neither the battery level nor the error: those checks stay here.
        charge = state.battery
        if charge is not None and (health.battery is not Battery.NORMAL or charge <= self._watch):
            self._battery(out, health, fleet, name, charge, now_ms)
        status = state.status
        entered_error = (
            status is not None
            and (status == "error") is not health.error
            and self._error(out, health, fleet, name, state, now_ms)
        )
        if state.issues or (state.issues is not None and health.issues):
            self._issues(out, health, fleet, name, state, now_ms)
        self._movement(out, health, fleet, name, state, now_ms)
        health.applied = state
        return entered_error

    def tick(self, out: Output, now_ms: int) -> None:
        for (fleet, name), health in self.robots.items():
            if (
                health.working
                and not health.stuck
                and health.anchor is not None
                and now_ms - health.anchor_ms >= self._config.stuck_ms
            ):
                health.stuck = True
                still = now_ms - health.anchor_ms
                out.events.append(
                    Event("robot_stuck", now_ms, "warning", fleet, name, detail={"still_ms": still})
                )
                self._alerts.open(
                    out,
                    condition("robot_stuck", fleet, name),
                    now_ms,
                    "warning",
                    f"Robot {name} is stuck",
                    f"Robot {name} of fleet {fleet} has not moved for {still / 1000:.0f} s"
                    " while working.",
                    subtitle=fleet,
                    parameters=(("fleet", fleet), ("robot", name)),
                )

    def _battery(
        self, out: Output, health: RobotHealth, fleet: str, name: str, charge: float, now_ms: int
    ) -> None:
        level = battery_level(self._config, health.battery, charge)
        if level is health.battery:
            return
        previous, health.battery = health.battery, level
        severity = {Battery.NORMAL: "info", Battery.LOW: "warning", Battery.CRITICAL: "error"}
        out.events.append(
            Event(
                f"battery_{level.value}",
                now_ms,
                severity[level],  # type: ignore[arg-type]
                fleet,
                name,
                detail={"battery": charge, "was": previous.value},
            )
        )
        for old in (Battery.LOW, Battery.CRITICAL):
            if old is not level:
                self._alerts.close(out, condition(f"battery_{old.value}", fleet, name), now_ms)
        if level is not Battery.NORMAL:
            self._alerts.open(
                out,
                condition(f"battery_{level.value}", fleet, name),
                now_ms,
                "error" if level is Battery.CRITICAL else "warning",
                f"Robot {name}: battery {level.value}",
                f"Robot {name} of fleet {fleet} is at {charge:.0%} battery.",
                subtitle=fleet,
                parameters=(("fleet", fleet), ("robot", name)),
            )

    def _error(
        self,
        out: Output,
        health: RobotHealth,
        fleet: str,
        name: str,
        state: AnyRobotState,
        now_ms: int,
    ) -> bool:
        if state.status is None:
            return False
        in_error = state.status == "error"
        if in_error == health.error:
            return False
        health.error = in_error
        key = condition("robot_error", fleet, name)
        if not in_error:
            out.events.append(Event("robot_error_cleared", now_ms, "info", fleet, name))
            self._alerts.close(out, key, now_ms)
            return False
        details = [i.detail for i in state.issues or [] if i.detail]
        out.events.append(
            Event("robot_error", now_ms, "error", fleet, name, detail={"issues": details})
        )
        self._alerts.open(
            out,
            key,
            now_ms,
            "error",
            f"Robot {name} reports an error",
            f"Robot {name} of fleet {fleet} is in error" + (f": {details[0]}" if details else "."),
            subtitle=fleet,
            task_id=state.task_id or None,
            parameters=(("fleet", fleet), ("robot", name)),
        )
        return True

    def _issues(
        self,
        out: Output,
        health: RobotHealth,
        fleet: str,
        name: str,
        state: AnyRobotState,
        now_ms: int,
    ) -> None:
        current = _issue_set(state)
        changes = [("issue_raised", "warning", current - health.issues)]
        changes.append(("issue_cleared", "info", health.issues - current))
        for kind, severity, issues in changes:
            for category, detail in sorted(issues):
                out.events.append(
                    Event(
                        kind,
                        now_ms,
                        severity,  # type: ignore[arg-type]
                        fleet,
                        name,
                        detail={"category": category, "detail": detail},
                    )
                )
                if category in ALERTING_ISSUES:
                    self._issue_alert(
                        out, kind == "issue_raised", category, detail, fleet, name, now_ms
                    )
        health.issues = current

    def _issue_alert(
        self,
        out: Output,
        raised: bool,
        category: str,
        detail: str,
        fleet: str,
        name: str,
        now_ms: int,
    ) -> None:
        key = condition(category, fleet, name)
        if not raised:
            self._alerts.close(out, key, now_ms)
            return
        self._alerts.open(
            out,
            key,
            now_ms,
            "warning",
            f"Robot {name}: {category.replace('_', ' ')}",
            f"Robot {name} of fleet {fleet}: {detail}",
            subtitle=fleet,
            parameters=(("fleet", fleet), ("robot", name)),
        )

    def _movement(
        self,
        out: Output,
        health: RobotHealth,
        fleet: str,
        name: str,
        state: AnyRobotState,
        now_ms: int,
    ) -> None:
        if state.status is not None:
            working = state.status == "working"
            if working and not health.working:
                health.anchor_ms = now_ms  # stuck counts from when work starts
            health.working = working
        loc = state.location
        moved = False
        if loc is not None:
            here = (loc.map, loc.x, loc.y)
            anchor = health.anchor
            moved = (
                anchor is None
                or anchor[0] != here[0]
                or math.hypot(anchor[1] - here[1], anchor[2] - here[2])
                > self._config.stuck_distance_m
            )
            if moved:
                health.anchor, health.anchor_ms = here, now_ms
        if health.stuck and (moved or not health.working):
            health.stuck = False
            out.events.append(Event("robot_unstuck", now_ms, "info", fleet, name))
            self._alerts.close(out, condition("robot_stuck", fleet, name), now_ms)
