"""Fleet escalation: K failures in a window raise one fleet-level critical alert.

One robot failing is an incident; most of a kitchen's robots failing is an
outage that needs someone now. The alert clears once the window holds fewer
than K failures and no robot of the fleet is offline or in error.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from hub.derive.alerts import AlertBook
from hub.derive.base import Event, Output
from hub.derive.config import DeriveConfig


def escalation_condition(fleet: str) -> str:
    return f"fleet_escalation/{fleet}"


class Escalation:
    def __init__(
        self, config: DeriveConfig, alerts: AlertBook, robots_down: Callable[[str], int]
    ) -> None:
        self._config = config
        self._alerts = alerts
        self._robots_down = robots_down
        self._failures: dict[str, deque[int]] = {}

    def restore(self, failures: dict[str, list[int]]) -> None:
        for fleet, times in failures.items():
            self._failures[fleet] = deque(sorted(times))

    def failure(self, out: Output, fleet: str, now_ms: int) -> None:
        self._failures.setdefault(fleet, deque()).append(now_ms)
        self._evaluate(out, fleet, now_ms)

    def tick(self, out: Output, now_ms: int) -> None:
        fleets = set(self._failures) | {
            c.split("/", 1)[1]
            for c in self._alerts.open_alerts
            if c.startswith(escalation_condition(""))
        }
        for fleet in sorted(fleets):
            self._evaluate(out, fleet, now_ms)

    def _evaluate(self, out: Output, fleet: str, now_ms: int) -> None:
        window = self._failures.setdefault(fleet, deque())
        while window and window[0] <= now_ms - self._config.escalation_window_ms:
            window.popleft()
        count, key = len(window), escalation_condition(fleet)
        limit = self._config.escalation_failures
        if count >= limit and not self._alerts.is_open(key):
            out.events.append(
                Event(
                    "fleet_escalated",
                    now_ms,
                    "error",
                    fleet,
                    detail={"failures": count, "window_ms": self._config.escalation_window_ms},
                )
            )
            self._alerts.open(
                out,
                key,
                now_ms,
                "error",
                f"Fleet {fleet} is failing",
                f"{count} failures in fleet {fleet} within"
                f" {self._config.escalation_window_ms / 60000:.0f} min.",
                subtitle=fleet,
                parameters=(("fleet", fleet), ("failures", str(count))),
            )
        elif count < limit and self._alerts.is_open(key) and self._robots_down(fleet) == 0:
            out.events.append(Event("fleet_recovered", now_ms, "info", fleet))
            self._alerts.close(out, key, now_ms)
        if not window and not self._alerts.is_open(key):
            del self._failures[fleet]
