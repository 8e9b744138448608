"""What an accepted ingest message (or a command the hub performs) changes: publications and rows.

Pure functions of the message (and the hub's receive time), so they are
tested without a database. Numbering and committing is the writer's job.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel

from fleetcore.contract import rmf, rooms, strict_fleet_state
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.ingest import IngestMessage, IngestType
from fleetcore.contract.limits import CONTENT_TYPE_BYTES, column_problem
from fleetcore.contract.rmf.fleet import LogEntry
from fleetcore.contract.rmf.task import split_label
from fleetcore.errors import IngestRejected
from fleetcore.map_images import MAP_IMAGE_PATH
from hub.encoding import FleetJson, dump


@dataclass(slots=True)
class Row:
    """One row for the writer: a model name and its column values.

    ``seq`` is filled in by the writer with the seq of the publication it
    belongs to (``publication`` indexes :attr:`Change.publications`).
    """

    model: str
    values: dict[str, Any]
    publication: int = 0


@dataclass(slots=True)
class PendingPublication:
    room: str
    data_json: bytes


@dataclass(slots=True)
class Change:
    publications: list[PendingPublication] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    received_ms: int = 0
    received_at: float = 0.0
    """Monotonic receive time, for the ingest-to-publish latency."""
    published: asyncio.Future[None] | None = None
    """Resolved by the writer once the change is committed and published, for a sender that
    answers only then (a command the hub performs itself)."""
    committed: asyncio.Future[None] | None = None
    """Resolved by the writer once the change is committed; cancelled if it never will be
    (the writer stopped). A site's frame is acknowledged on it (:mod:`hub.site_sessions`)."""


@dataclass(frozen=True, slots=True)
class SiteFrame:
    """A numbered frame of an acknowledged site session, on its way to the writer.

    Its number is stored in the transaction of the frame's rows (:func:`site_frame_row`),
    so a hub that takes over knows the frame is committed when the site sends it again.
    """

    session: str
    number: int
    committed: asyncio.Future[None]


def site_frame_row(frame: SiteFrame, received_ms: int) -> Row:
    return Row(
        "SiteSession",
        {"session": frame.session, "frame": frame.number, "updated_ms": received_ms},
    )


def changes_for(message: IngestMessage, received_ms: int) -> Change:
    timed = _TIMED_HANDLERS.get(message.type)
    change = timed(message.data, received_ms) if timed else _HANDLERS[message.type](message.data)
    change.received_ms = received_ms
    return change


def _state(room: str, model: BaseModel) -> Change:
    return Change(publications=[PendingPublication(room, dump(model))])


_FLEETS = FleetJson()
"""Robots' JSON of fleet states, kept while their state object is the same; shared by every
hub in the process (what it keeps is used only for the very state object it encodes)."""


def _fleet_state(data: rmf.FleetState | strict_fleet_state.FleetState) -> Change:
    room = rooms.FLEET_STATE.format(name=data.name)
    if isinstance(data, strict_fleet_state.FleetState):
        return Change(publications=[PendingPublication(room, strict_fleet_state.encode(data))])
    return Change(publications=[PendingPublication(room, _FLEETS.encode(data))])


def _door_state(data: rmf.DoorState) -> Change:
    return _state(rooms.DOOR_STATE.format(name=data.door_name), data)


def _lift_state(data: rmf.LiftState) -> Change:
    return _state(rooms.LIFT_STATE.format(name=data.lift_name), data)


def _dispenser_state(data: rmf.DispenserState) -> Change:
    return _state(rooms.DISPENSER_STATE.format(guid=data.guid), data)


def _ingestor_state(data: rmf.IngestorState) -> Change:
    return _state(rooms.INGESTOR_STATE.format(guid=data.guid), data)


def _beacon_state(data: rmf.BeaconState) -> Change:
    """Every update on the /beacons log (as rmf-web), the latest in the beacon's own room."""
    body = dump(data)
    return Change(
        publications=[
            PendingPublication(rooms.BEACONS.pattern, body),
            PendingPublication(rooms.BEACON_STATE.format(id=data.id), body),
        ]
    )


ALERT_TIERS = ("info", "warning", "error")
"""rmf_task_msgs/Alert's tier numbers as rmf-web's alert model names them."""
RMF_RESPONDER = "rmf"
"""The responder of a response given at the site (RMF's message names nobody)."""


def _rmf_alert(data: rmf.RmfAlert, received_ms: int) -> Change:
    """RMF's alert as rmf-web's alert request, timed when the hub received it (as rmf-web does)."""
    body = {
        "id": data.id,
        "unix_millis_alert_time": received_ms,
        "title": data.title,
        "subtitle": data.subtitle,
        "message": data.message,
        "display": data.display,
        "tier": ALERT_TIERS[data.tier],
        "responses_available": data.responses_available,
        "alert_parameters": [p.model_dump() for p in data.alert_parameters],
        "task_id": data.task_id or None,
    }
    text = orjson.dumps(body).decode()
    row = Row(
        "AlertRequest",
        {
            "id": data.id,
            "unix_millis_alert_time": received_ms,
            "task_id": data.task_id or None,
            "response_expected": bool(data.responses_available),
            "condition": None,
            "data": text,
        },
    )
    return Change(
        publications=[PendingPublication(rooms.ALERT_REQUESTS.pattern, text.encode())], rows=[row]
    )


def _rmf_alert_response(data: rmf.RmfAlertResponse, received_ms: int) -> Change:
    body = {
        "id": data.id,
        "unix_millis_response_time": received_ms,
        "response": data.response,
        "responder": RMF_RESPONDER,
    }
    text = orjson.dumps(body).decode()
    row = Row(
        "AlertResponse",
        {
            "id": data.id,
            "unix_millis_response_time": received_ms,
            "response": data.response,
            "responder": RMF_RESPONDER,
            "data": text,
        },
    )
    return Change(
        publications=[PendingPublication(rooms.ALERT_RESPONSES.pattern, text.encode())],
        rows=[row],
    )


def _delivery_alert(data: rmf.DeliveryAlert) -> Change:
    return Change(publications=[PendingPublication(rooms.DELIVERY_ALERTS.pattern, dump(data))])


def _fire_alarm_trigger(data: rmf.FireAlarmTrigger, received_ms: int) -> Change:
    """rmf-web's FireAlarmTriggerState, timed when the hub received it (as rmf-web does)."""
    state = {"unix_millis_time": received_ms, "trigger": data.trigger}
    return Change(
        publications=[PendingPublication(rooms.FIRE_ALARM_TRIGGER.pattern, orjson.dumps(state))]
    )


def _log_rows(model: str, entries: list[LogEntry] | None, **columns: Any) -> list[Row]:
    return [
        Row(
            model,
            {
                **columns,
                "log_seq": entry.seq,
                "tier": entry.tier,
                "unix_millis_time": entry.unix_millis_time,
                "text": entry.text,
            },
        )
        for entry in entries or []
    ]


def _fleet_log(data: rmf.FleetLog) -> Change:
    rows = _log_rows("FleetLogEntry", data.log, fleet=data.name, robot=None)
    for robot, entries in (data.robots or {}).items():
        rows += _log_rows("FleetLogEntry", entries, fleet=data.name, robot=robot)
    return Change(
        publications=[PendingPublication(rooms.FLEET_LOG.format(name=data.name), dump(data))],
        rows=rows,
    )


def _task_log(data: rmf.TaskLog) -> Change:
    task_id = data.task_id
    rows = _log_rows("TaskLogEntry", data.log, task_id=task_id, phase=None, event=None)
    for phase_id, phase in (data.phases or {}).items():
        rows += _log_rows("TaskLogEntry", phase.log, task_id=task_id, phase=phase_id, event=None)
        for event_id, entries in (phase.events or {}).items():
            rows += _log_rows(
                "TaskLogEntry", entries, task_id=task_id, phase=phase_id, event=event_id
            )
    return Change(
        publications=[PendingPublication(rooms.TASK_LOG.format(task_id=task_id), dump(data))],
        rows=rows,
    )


def _task_state(data: rmf.TaskState) -> Change:
    data_json = dump(data)
    booking = data.booking
    text = data_json.decode()
    row = Row(
        "TaskState",
        {
            "id": booking.id,
            "category": data.category,
            "assigned_group": data.assigned_to.group if data.assigned_to else None,
            "assigned_to": data.assigned_to.name if data.assigned_to else None,
            "status": data.status,
            "requester": booking.requester,
            "unix_millis_start_time": data.unix_millis_start_time,
            "unix_millis_finish_time": data.unix_millis_finish_time,
            "unix_millis_request_time": booking.unix_millis_request_time,
            "data": text,
        },
    )
    history = Row("TaskStateHistory", {"task_id": booking.id, "status": data.status, "data": text})
    labels = [
        Row(
            "TaskLabel",
            {
                "task_id": booking.id,
                "label_name": name,
                "label_value": value,
                "unix_millis_request_time": booking.unix_millis_request_time,
            },
        )
        for name, value in dict(split_label(label) for label in booking.labels or []).items()
    ]
    return Change(
        publications=[PendingPublication(rooms.TASK_STATE.format(task_id=booking.id), data_json)],
        rows=[row, history, *labels],
    )


def _building_map(data: rmf.BuildingMap) -> Change:
    rows: list[Row] = []
    for level in data.levels:
        for image in level.images:
            stored = _extract_image(image.data)
            if stored is None:
                continue
            sha, content_type, raw = stored
            rows.append(Row("MapImage", {"sha256": sha, "content_type": content_type, "data": raw}))
            image.data = MAP_IMAGE_PATH.format(sha256=sha)
    return Change(
        publications=[PendingPublication(rooms.BUILDING_MAP.pattern, dump(data))], rows=rows
    )


def _extract_image(data: str) -> tuple[str, str, bytes] | None:
    """Decode a ``data:`` URI into (sha256, content type, bytes); None for a URL already."""
    if not data.startswith("data:"):
        return None
    header, sep, payload = data.partition(",")
    if not sep or not header.endswith(";base64"):
        raise IngestRejected(
            "invalid_field", "data.levels.images.data: expected a base64 data: URI"
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise IngestRejected("invalid_field", "data.levels.images.data: invalid base64") from None
    content_type = (
        header.removeprefix("data:").removesuffix(";base64") or "application/octet-stream"
    )
    problem = column_problem(content_type, CONTENT_TYPE_BYTES)
    if problem is not None:
        raise IngestRejected(
            "invalid_field", f"data.levels.images.data: its content type: {problem}"
        )
    return hashlib.sha256(raw).hexdigest(), content_type, raw


def hub_command_change(kind: str, body: dict[str, Any], now_ms: int) -> Change:
    """What a command the hub performs itself changes (:data:`HUB_KINDS`); its body was
    validated by rest_api."""
    if kind == CommandKind.PUT_RIO:
        rio = {"id": str(body["id"]), "type": str(body["type"]), "data": body["data"]}
        text = orjson.dumps(rio)
        row = Row("Rio", {"id": rio["id"], "type": rio["type"], "data": text.decode()})
        change = Change(publications=[PendingPublication(rooms.RIOS.pattern, text)], rows=[row])
    elif kind == CommandKind.SAVE_BEACON_STATE:
        change = _beacon_state(rmf.BeaconState.model_validate(body))
    else:
        raise ValueError(f"the hub does not perform {kind!r} commands itself")
    change.received_ms = now_ms
    return change


_HANDLERS: dict[IngestType, Callable[[Any], Change]] = {
    IngestType.FLEET_STATE: _fleet_state,
    IngestType.FLEET_LOG: _fleet_log,
    IngestType.TASK_STATE: _task_state,
    IngestType.TASK_LOG: _task_log,
    IngestType.DOOR_STATE: _door_state,
    IngestType.LIFT_STATE: _lift_state,
    IngestType.DISPENSER_STATE: _dispenser_state,
    IngestType.INGESTOR_STATE: _ingestor_state,
    IngestType.BUILDING_MAP: _building_map,
    IngestType.BEACON_STATE: _beacon_state,
    IngestType.DELIVERY_ALERT: _delivery_alert,
}
_TIMED_HANDLERS: dict[IngestType, Callable[[Any, int], Change]] = {
    IngestType.ALERT: _rmf_alert,
    IngestType.ALERT_RESPONSE: _rmf_alert_response,
    IngestType.FIRE_ALARM_TRIGGER: _fire_alarm_trigger,
}
"""Handlers that need the hub's receive time (RMF's alert messages carry none)."""
