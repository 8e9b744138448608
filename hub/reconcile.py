"""What became of a command whose hub died before RMF answered: read from RMF's own state.

Sending it again could act twice, and RMF cannot be asked for the answer to
an old request. But RMF keeps reporting its tasks, and the hub stores what
it reports: a task a dispatch created carries the command's request_id as
a booking label (:data:`~fleetcore.contract.commands.REQUEST_LABEL`), and a
cancelled or killed task says so in its state. Where that shows the
command's effect it is complete; where nothing can show it (a door request,
an interruption, a dispatch RMF never received) its outcome is unknown.
"""

from __future__ import annotations

from typing import Any

import orjson

from fleetcore.contract.commands import REQUEST_LABEL, TASK_CREATING_KINDS, CommandKind
from fleetcore.store import models

RECONCILE_POLL_S = 0.5
"""How often RMF's state is looked at again while sites reconnect and report."""

_STOP_FIELDS = {
    CommandKind.CANCEL_TASK.value: "cancellation",
    CommandKind.KILL_TASK.value: "killed",
}
"""The task_state field RMF sets once a cancel or kill request was accepted."""


async def effect_in_rmf(record: models.CommandRecord) -> dict[str, Any] | None:
    """RMF's response as its state shows it (``{"success": true, ...}``), or None if it does not."""
    if record.kind in TASK_CREATING_KINDS:
        label = await models.TaskLabel.filter(
            label_name=REQUEST_LABEL, label_value=record.request_id
        ).first()
        state = None if label is None else await models.TaskState.get_or_none(id=label.task_id)
        if state is None:
            return None
        return {"success": True, "state": orjson.loads(state.data)}
    field = _STOP_FIELDS.get(record.kind)
    if field is None:
        return None
    task_id = orjson.loads(record.body).get("task_id")
    state = await models.TaskState.get_or_none(id=task_id) if isinstance(task_id, str) else None
    if state is None or field not in orjson.loads(state.data):
        return None
    return {"success": True}


def unknown_outcome(record: models.CommandRecord) -> dict[str, Any]:
    """What GET /commands/{key} says of a command nobody can tell the outcome of."""
    return {
        "detail": (
            f"the hub that sent this {record.kind} command stopped before RMF answered, and "
            "RMF's reported state does not show its effect; it was not sent again"
        )
    }
