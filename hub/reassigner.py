"""Carrying out reassignments: cancel the original task, then dispatch it again, each once.

:mod:`hub.derive.reassign` decides and the writer commits the decision as
two ``HubCommand`` rows (``executed`` false) with the event that caused it.
This leader role reads the rows back and drives each decision through the
command executor, one step at a time:

1. the cancel goes to RMF under its key, unless a record of that key exists;
2. once RMF answered the cancel (or :mod:`hub.reconcile` found its effect
   after a hub restart), the dispatch goes under its key;
3. once the dispatch is answered, an event says how it ended and the rows
   are marked executed, in one batch.

Each step acts only when the executor has no record of its key, and the
executor records a key in its fencing transaction before sending: a
restarted hub or a standby that took over carries on from the records and
sends nothing twice. The dispatch waits for the cancel so that a task RMF
refused to cancel (or that ended meanwhile) is never run twice; such a
reassignment ends with a ``task_reassign_failed`` event instead (the task's
stale alert is still open for an operator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from fleetcore.contract.commands import Command as ExecutorCommand
from fleetcore.contract.commands import CommandStatus
from fleetcore.log import hub_logger
from fleetcore.settings import DEFAULTS
from fleetcore.store import models
from hub.commands import CommandExecutor
from hub.derive.base import Command, Event, Output, Severity
from hub.derive.publish import change_for, command_row
from hub.derive.reassign import REASSIGN_KEY_PREFIX
from hub.leader import PeriodicRole
from hub.service import Hub, wall_clock_ms

Outcome = tuple[str, Severity, dict[str, Any]]
"""How a reassignment ended: the kind, severity and detail of the event that says so."""
REQUESTER = "fleethub"
"""Who the executor records as having asked for a reassignment's commands."""


class Reassigner(PeriodicRole):
    """A leader role: every ``poll_s`` it advances each recorded, unexecuted reassignment."""

    name = "reassigner"

    def __init__(
        self,
        hub: Hub,
        executor: CommandExecutor,
        *,
        poll_s: float = DEFAULTS.derive_tick_ms / 1000,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        super().__init__(poll_s)
        self._hub = hub
        self._executor = executor
        self._clock_ms = clock_ms
        self._finished: set[str] = set()
        """Original task ids whose outcome this term submitted (the writer may not have committed
        the ``executed`` flag yet when the next poll reads the rows)."""

    async def start(self) -> None:
        self._finished = set()
        await super().start()

    async def step(self) -> None:
        await self.advance()

    async def advance(self) -> None:
        """Take every open reassignment one step further, in the order they were decided."""
        rows = await models.HubCommand.filter(
            key__startswith=REASSIGN_KEY_PREFIX, executed=False
        ).order_by("unix_millis_time", "key")
        decisions: dict[str, dict[str, Command]] = {}
        for row in rows:
            command = Command.from_json(orjson.loads(row.data))
            decisions.setdefault(command.task_id, {})[command.kind] = command
        for task_id, steps in decisions.items():
            if task_id not in self._finished:
                await self._step(steps["cancel_task"], steps["dispatch_task"])

    async def _step(self, cancel: Command, dispatch: Command) -> None:
        """Send the first step not sent yet, or wait for its answer, or tell how it ended."""
        records = {
            r.key: r for r in await models.CommandRecord.filter(key__in=[cancel.key, dispatch.key])
        }
        for step, command in (("cancel", cancel), ("dispatch", dispatch)):
            record = records.get(command.key)
            if record is None:
                await self._send(command)
                return
            if record.status == CommandStatus.PENDING.value:
                return
            if record.status != CommandStatus.DONE.value:
                await self._finish(cancel, dispatch, _failure(step, record))
                return
        new_task = (_response(records[dispatch.key]).get("state") or {}).get("booking", {})
        detail = {"task_id": new_task.get("id"), "commands": [cancel.key, dispatch.key]}
        await self._finish(cancel, dispatch, ("task_redispatched", "info", detail))

    async def _send(self, command: Command) -> None:
        hub_logger.info("reassigning task %s: %s (%s)", command.task_id, command.kind, command.key)
        await self._executor.handle(
            [ExecutorCommand(command.key, command.kind, command.body, REQUESTER, command.time_ms)]
        )

    async def _finish(self, cancel: Command, dispatch: Command, outcome: Outcome) -> None:
        """One batch: the event that tells how the reassignment ended, and both rows executed."""
        kind, severity, detail = outcome
        now = self._clock_ms()
        event = Event(kind, now, severity, cancel.fleet, cancel.robot, cancel.task_id, detail)
        change = change_for(Output(events=[event]), now)
        change.rows += [command_row(c, executed=True, publication=0) for c in (cancel, dispatch)]
        self._finished.add(cancel.task_id)
        await self._hub.writer.submit(change)
        hub_logger.info("reassigning task %s ended: %s", cancel.task_id, kind)


def _failure(step: str, record: models.CommandRecord) -> Outcome:
    """The ``task_reassign_failed`` outcome of a step RMF refused or nobody can tell the end of."""
    return (
        "task_reassign_failed",
        "error",
        {"step": step, "status": record.status, "response": _response(record)},
    )


def _response(record: models.CommandRecord) -> dict[str, Any]:
    return orjson.loads(record.response) if record.response else {}
