"""Task lifecycle: transitions with durations, delayed against the estimate, stale.

A task is stale while it is active and either its robot is offline or its
state stopped updating: a fleet adapter restart otherwise leaves tasks
"underway" forever. Durations are measured on the hub's clock, like
everything derived.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fleetcore.contract.rmf.task import TERMINAL_STATUSES, TaskState
from hub.derive.alerts import AlertBook
from hub.derive.base import Event, Output, Severity
from hub.derive.config import DeriveConfig

ACTIVE_STATUSES = frozenset({"underway", "blocked", "delayed", "standby", "error"})
"""Statuses in which a task occupies its robot (queued and terminal ones do not)."""
FINISHED_KEPT = 10_000
"""Finished task ids remembered, so a re-sent final state is no new transition."""
REASSIGNED_LABEL = "reassigned_from"

_SEVERITY: dict[str, Severity] = {"failed": "error", "killed": "warning", "canceled": "warning"}


@dataclass(slots=True)
class TrackedTask:
    status: str
    since_ms: int
    first_seen_ms: int
    updated_ms: int
    fleet: str | None = None
    robot: str | None = None
    estimate_ms: int | None = None
    labels: tuple[str, ...] = ()
    category: str | None = None
    description: dict[str, Any] | None = None
    """The task's ``detail`` when it is an object: RMF fleet adapters put the request's description there."""
    delayed: bool = False
    stale: bool = False

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def reassigned_from(self) -> str | None:
        for label in self.labels:
            name, _, value = label.partition("=")
            if name == REASSIGNED_LABEL:
                return value
        return None


def stale_condition(task_id: str) -> str:
    return f"task_stale/{task_id}"


class TaskTracker:
    def __init__(self, config: DeriveConfig, alerts: AlertBook) -> None:
        self._config = config
        self._alerts = alerts
        self.tasks: dict[str, TrackedTask] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()

    def restore(self, tasks: dict[str, TrackedTask], finished: list[str]) -> None:
        self.tasks.update(tasks)
        for task_id in finished:
            self._remember_finished(task_id)

    def update(self, out: Output, state: TaskState, now_ms: int) -> str | None:
        """Apply one task state; returns the new status when the task just failed."""
        task_id = state.booking.id
        status = state.status or "uninitialized"
        if task_id in self._finished:
            return None
        task = self.tasks.get(task_id)
        if task is None:
            task = TrackedTask(status="", since_ms=now_ms, first_seen_ms=now_ms, updated_ms=now_ms)
            self.tasks[task_id] = task
        task.updated_ms = now_ms
        if state.assigned_to is not None:
            task.fleet, task.robot = state.assigned_to.group, state.assigned_to.name
        task.labels = tuple(state.booking.labels or ())
        task.category = state.category
        if isinstance(state.detail, dict):
            task.description = state.detail
        estimate = state.original_estimate_millis or state.estimate_millis
        if estimate is not None and (task.estimate_ms is None or status != task.status):
            task.estimate_ms = estimate
        if task.stale:
            task.stale = False
            out.events.append(self._event("task_stale_cleared", task_id, task, now_ms, "info"))
            self._alerts.close(out, stale_condition(task_id), now_ms)
        if status == task.status:
            return None
        previous, previous_since = task.status, task.since_ms
        task.status, task.since_ms = status, now_ms
        detail: dict[str, object] = {
            "from": previous or None,
            "previous_ms": now_ms - previous_since if previous else 0,
        }
        if status in TERMINAL_STATUSES:
            detail["total_ms"] = now_ms - task.first_seen_ms
            del self.tasks[task_id]
            self._remember_finished(task_id)
        out.events.append(
            self._event(
                f"task_{status}", task_id, task, now_ms, _SEVERITY.get(status, "info"), detail
            )
        )
        return status if status == "failed" else None

    def tick(self, out: Output, now_ms: int, robot_down: set[tuple[str, str]]) -> None:
        for task_id, task in self.tasks.items():
            if not task.active:
                continue
            if (
                not task.delayed
                and task.status != "standby"
                and task.estimate_ms is not None
                and now_ms - task.since_ms
                > task.estimate_ms * (1 + self._config.task_delay_tolerance)
            ):
                task.delayed = True
                out.events.append(
                    self._event(
                        "task_delayed",
                        task_id,
                        task,
                        now_ms,
                        "warning",
                        {"estimate_ms": task.estimate_ms, "elapsed_ms": now_ms - task.since_ms},
                    )
                )
            if task.stale:
                continue
            if task.fleet is not None and (task.fleet, task.robot) in robot_down:
                self._mark_stale(out, task_id, task, now_ms, "robot_offline")
            elif now_ms - task.updated_ms >= self._config.task_stale_ms:
                self._mark_stale(out, task_id, task, now_ms, "no_updates")

    def _mark_stale(
        self, out: Output, task_id: str, task: TrackedTask, now_ms: int, reason: str
    ) -> None:
        task.stale = True
        silent = now_ms - task.updated_ms
        out.events.append(
            self._event(
                "task_stale",
                task_id,
                task,
                now_ms,
                "warning",
                {"reason": reason, "silent_ms": silent},
            )
        )
        why = "its robot is offline" if reason == "robot_offline" else "its state stopped updating"
        self._alerts.open(
            out,
            stale_condition(task_id),
            now_ms,
            "warning",
            f"Task {task_id} is stale",
            f"Task {task_id} is {task.status} but {why}.",
            subtitle=task.fleet or "",
            task_id=task_id,
        )

    def active_on(self, fleet: str, robot: str) -> list[tuple[str, TrackedTask]]:
        return [
            (task_id, task)
            for task_id, task in self.tasks.items()
            if task.active and task.fleet == fleet and task.robot == robot
        ]

    def _remember_finished(self, task_id: str) -> None:
        self._finished[task_id] = None
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)

    @staticmethod
    def _event(
        kind: str,
        task_id: str,
        task: TrackedTask,
        now_ms: int,
        severity: Severity,
        detail: dict[str, object] | None = None,
    ) -> Event:
        return Event(kind, now_ms, severity, task.fleet, task.robot, task_id, dict(detail or {}))
