"""Reassignment policy: a task whose robot went offline or into error mid-task is canceled and
dispatched again.

The policy only decides (it is pure, like every derivation); the decision is
committed as two ``HubCommand`` rows with the event that caused it, and
:mod:`hub.reassigner` carries it out through the command executor.

Exactly once per original task: the idempotency keys derive from the
original task id, the hub restores the set of reassigned tasks from the
commands it recorded, and a task that is itself a reassignment is never
reassigned again (no chains). The new request goes to the robot's fleet,
not to a robot, so the fleet picks one that is reachable; it carries
``reassigned_from=<original task id>`` among its labels.
"""

from __future__ import annotations

import hashlib

from fleetcore.contract.commands import REQUEST_LABEL, RESERVED_KEY_PREFIX
from hub.derive.base import Command, Event, Output
from hub.derive.tasks import REASSIGNED_LABEL, TrackedTask

REASSIGN_KEY_PREFIX = f"{RESERVED_KEY_PREFIX}reassign-"
"""Every reassignment key starts so: the hub's own (clients may not use it) and findable on restore."""


def reassign_key(task_id: str, kind: str) -> str:
    """The idempotency key of one step (``cancel``/``dispatch``) of reassigning ``task_id``.

    A hash keeps it within the command key's length whatever RMF's task ids look like.
    """
    digest = hashlib.sha256(task_id.encode()).hexdigest()[:40]
    return f"{REASSIGN_KEY_PREFIX}{kind}-{digest}"


class ReassignPolicy:
    def __init__(self, enabled: bool, reassigned: set[str] | None = None) -> None:
        self.enabled = enabled
        self.reassigned: set[str] = set(reassigned or ())

    def robot_down(
        self, out: Output, fleet: str, robot: str, tasks: list[tuple[str, TrackedTask]], now_ms: int
    ) -> None:
        """``robot`` went offline or into error: its unfinished ``tasks`` go on elsewhere, once."""
        if not self.enabled:
            return
        for task_id, task in tasks:
            if task_id in self.reassigned or task.reassigned_from is not None:
                continue
            self.reassigned.add(task_id)
            if task.description is None:
                # Without the request's description a new dispatch would be refused,
                # and canceling alone would lose the task: leave it to an operator.
                out.events.append(
                    Event(
                        "task_reassign_skipped",
                        now_ms,
                        "warning",
                        fleet,
                        robot,
                        task_id,
                        {"reason": "the task state carries no description to dispatch again"},
                    )
                )
                continue
            # The original's request_id label would name the original's dispatch command.
            labels = [
                label
                for label in task.labels
                if label.partition("=")[0] not in (REASSIGNED_LABEL, REQUEST_LABEL)
            ]
            cancel = Command(
                reassign_key(task_id, "cancel"),
                "cancel_task",
                now_ms,
                task_id,
                fleet,
                robot,
                {
                    "type": "cancel_task_request",
                    "task_id": task_id,
                    "labels": [f"reason=robot {robot} offline"],
                },
            )
            request = {
                "category": task.category,
                "description": task.description,
                "fleet_name": fleet,
                "unix_millis_earliest_start_time": now_ms,
                "labels": [*labels, f"{REASSIGNED_LABEL}={task_id}"],
                "requester": "fleethub",
            }
            dispatch = Command(
                reassign_key(task_id, "dispatch"),
                "dispatch_task",
                now_ms,
                task_id,
                fleet,
                robot,
                {"type": "dispatch_task_request", "request": request},
            )
            out.commands += [cancel, dispatch]
            out.events.append(
                Event(
                    "task_reassigned",
                    now_ms,
                    "warning",
                    fleet,
                    robot,
                    task_id,
                    {"commands": [cancel.key, dispatch.key]},
                )
            )
