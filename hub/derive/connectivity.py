"""Robot connectivity: online → stale (no update for T1) → offline (T2) → online on the next update.

Time is the hub's receive time, never the robot's own clock, which may be
wrong or frozen. After a hub start every known robot counts as just seen and
nothing turns stale or offline during the grace period: a restart is not
evidence that robots went away.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hub.derive.alerts import AlertBook
from hub.derive.base import Event, Output, Severity
from hub.derive.config import DeriveConfig

RobotKey = tuple[str, str]
"""(fleet, robot)."""


class Link(enum.StrEnum):
    ONLINE = "online"
    STALE = "stale"
    OFFLINE = "offline"


@dataclass(slots=True)
class RobotLink:
    state: Link
    last_seen_ms: int
    since_ms: int


def offline_condition(fleet: str, robot: str) -> str:
    return f"robot_offline/{fleet}/{robot}"


class ConnectivityTracker:
    def __init__(self, config: DeriveConfig, alerts: AlertBook) -> None:
        self._config = config
        self._alerts = alerts
        self.robots: dict[RobotKey, RobotLink] = {}
        self._grace_until_ms = 0

    def restore(self, links: dict[RobotKey, Link], start_ms: int) -> None:
        """Known robots as of the last run: their last state, last seen at ``start_ms``."""
        self._grace_until_ms = start_ms + self._config.restart_grace_ms
        for key, state in links.items():
            self.robots[key] = RobotLink(state, start_ms, start_ms)

    def seen(self, out: Output, fleet: str, robot: str, now_ms: int) -> Link | None:
        """A robot reported; returns its previous state when this brought it back online."""
        link = self.robots.get((fleet, robot))
        if link is None:
            # A robot heard of for the first time is online without an event:
            # the first start of a site would otherwise be a burst of them.
            self.robots[(fleet, robot)] = RobotLink(Link.ONLINE, now_ms, now_ms)
            return None
        link.last_seen_ms = now_ms
        if link.state is Link.ONLINE:
            return None
        previous = link.state
        out.events.append(
            Event(
                "robot_online",
                now_ms,
                fleet=fleet,
                robot=robot,
                detail={"was": previous.value, "silent_ms": now_ms - link.since_ms},
            )
        )
        link.state, link.since_ms = Link.ONLINE, now_ms
        self._alerts.close(out, offline_condition(fleet, robot), now_ms)
        return previous

    def tick(self, out: Output, now_ms: int) -> list[RobotKey]:
        """Apply the thresholds; returns the robots that went offline now."""
        if now_ms < self._grace_until_ms:
            return []
        gone: list[RobotKey] = []
        for (fleet, robot), link in self.robots.items():
            limits = self._config.thresholds(fleet)
            silent = now_ms - link.last_seen_ms
            target = link.state
            if silent >= limits.offline_ms:
                target = Link.OFFLINE
            elif silent >= limits.stale_ms and link.state is Link.ONLINE:
                target = Link.STALE
            if target is link.state:
                continue
            if link.state is Link.ONLINE and target is Link.OFFLINE:
                # A tick late enough to skip stale still reports it, so the feed is complete.
                out.events.append(self._event(Link.STALE, fleet, robot, now_ms, silent))
            out.events.append(self._event(target, fleet, robot, now_ms, silent))
            link.state, link.since_ms = target, now_ms
            if target is Link.OFFLINE:
                gone.append((fleet, robot))
                self._alerts.open(
                    out,
                    offline_condition(fleet, robot),
                    now_ms,
                    "error",
                    f"Robot {robot} is offline",
                    f"No update from robot {robot} of fleet {fleet} for {silent / 1000:.0f} s.",
                    subtitle=fleet,
                    parameters=(("fleet", fleet), ("robot", robot)),
                )
        return gone

    @staticmethod
    def _event(state: Link, fleet: str, robot: str, now_ms: int, silent: int) -> Event:
        severity: Severity = "error" if state is Link.OFFLINE else "warning"
        return Event(
            f"robot_{state.value}",
            now_ms,
            severity,
            fleet=fleet,
            robot=robot,
            detail={"silent_ms": silent},
        )
