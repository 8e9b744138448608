"""Turning a derivation :class:`Output` into what the writer commits and publishes.

Events go to ``/events``, opened alerts to ``/alerts/requests`` and
resolutions to ``/alerts/responses`` (as an rmf-web AlertResponse answered
``resolved``), each with its row. Commands are recorded under their
idempotency key (``executed`` false) and announced by the event that caused
them, in the same batch; :mod:`hub.reassigner` executes them.
"""

from __future__ import annotations

from typing import Any

import orjson

from fleetcore.contract import rooms
from hub.changes import Change, PendingPublication, Row
from hub.derive.base import AlertClose, AlertOpen, Command, Output
from hub.derive.connectivity import Link

RESOLVED = "resolved"
"""The response a resolution publishes, for clients that only know rmf-web's model."""
ACKNOWLEDGE = "acknowledge"
"""The response an operator may give a derived alert."""
LINK_EVENTS = {f"robot_{link.value}": link for link in Link}

UPSERT_KEYS: dict[str, tuple[str, ...]] = {
    "AlertRequest": ("id",),
    "AlertResponse": ("id",),
    "HubCommand": ("key",),
    "RobotLinkState": ("fleet", "robot"),
}
"""The writer upserts these: alerts posted over REST get their seq once the hub publishes
them, a command is recorded once under its key, a robot has one connectivity row."""
SEQ_STAMPED = frozenset(
    {"DerivedEvent", "AlertRequest", "AlertResponse", "AlertResolution", "HubCommand"}
)
"""Rows that carry the seq of the publication they belong to."""


def alert_request_json(alert: AlertOpen) -> dict[str, Any]:
    """rmf-web's AlertRequest for a derived alert."""
    return {
        "id": alert.alert_id,
        "unix_millis_alert_time": alert.time_ms,
        "title": alert.title,
        "subtitle": alert.subtitle,
        "message": alert.message,
        "display": True,
        "tier": alert.tier,
        "responses_available": [ACKNOWLEDGE],
        "alert_parameters": [{"name": n, "value": v} for n, v in alert.parameters],
        "task_id": alert.task_id,
    }


def resolution_json(close: AlertClose) -> dict[str, Any]:
    return {"id": close.alert_id, "unix_millis_response_time": close.time_ms, "response": RESOLVED}


def change_for(output: Output, received_ms: int) -> Change:
    """Publications and rows for one derivation output, in derivation order."""
    change = Change(received_ms=received_ms)
    for event in output.events:
        body = event.to_json()
        _publish(change, rooms.EVENTS.pattern, body)
        change.rows.append(
            Row(
                "DerivedEvent",
                {
                    "kind": event.kind,
                    "severity": event.severity,
                    "fleet": event.fleet,
                    "robot": event.robot,
                    "task_id": event.task_id,
                    "unix_millis_time": event.time_ms,
                    "data": orjson.dumps(body).decode(),
                },
                len(change.publications) - 1,
            )
        )
        link = LINK_EVENTS.get(event.kind)
        if link is not None and event.fleet and event.robot:
            values = {"fleet": event.fleet, "robot": event.robot, "state": link.value}
            change.rows.append(Row("RobotLinkState", {**values, "since_ms": event.time_ms}))
    for alert in output.opened:
        body = alert_request_json(alert)
        _publish(change, rooms.ALERT_REQUESTS.pattern, body)
        change.rows.append(
            Row(
                "AlertRequest",
                {
                    "id": alert.alert_id,
                    "unix_millis_alert_time": alert.time_ms,
                    "task_id": alert.task_id,
                    "response_expected": True,
                    "condition": alert.condition,
                    "data": orjson.dumps(body).decode(),
                },
                len(change.publications) - 1,
            )
        )
    for close in output.closed:
        _publish(change, rooms.ALERT_RESPONSES.pattern, resolution_json(close))
        change.rows.append(
            Row(
                "AlertResolution",
                {"id": close.alert_id, "unix_millis_time": close.time_ms},
                len(change.publications) - 1,
            )
        )
    change.rows += [
        command_row(command, executed=False, publication=max(len(change.publications) - 1, 0))
        for command in output.commands
    ]
    change.rows += [
        Row(
            "RobotPositionSample",
            {
                "fleet": s.fleet,
                "robot": s.robot,
                "unix_millis_time": s.time_ms,
                "map": s.map,
                "x": s.x,
                "y": s.y,
                "yaw": s.yaw,
                "status": s.status,
                "battery": s.battery,
            },
        )
        for s in output.samples
    ]
    return change


def command_row(command: Command, *, executed: bool, publication: int) -> Row:
    """The ``HubCommand`` row of a decided command; an upsert by key, so marking it executed
    later rewrites the same row."""
    return Row(
        "HubCommand",
        {
            "key": command.key,
            "kind": command.kind,
            "task_id": command.task_id,
            "unix_millis_time": command.time_ms,
            "data": orjson.dumps(command.to_json()).decode(),
            "executed": executed,
        },
        publication,
    )


def merge(into: Change, extra: Change) -> Change:
    """Append ``extra`` to ``into`` so both commit in one batch; row indexes follow their publications."""
    offset = len(into.publications)
    into.publications += extra.publications
    for row in extra.rows:
        row.publication += offset
        into.rows.append(row)
    return into


def _publish(change: Change, room: str, body: dict[str, Any]) -> None:
    change.publications.append(PendingPublication(room, orjson.dumps(body)))
