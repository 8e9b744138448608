"""Ingest messages: what fleet adapters, ros_bridge and the simulator send the hub.

The frame is ``{"type": T, "data": D}``, exactly what RMF's fleet adapters
(``BroadcastClient``) push to ``/_internal``. fleethub adds device, map,
beacon and alert types with the same shape so ros_bridge and the simulator
use one path.

Decoding is strict and specific: every rejection carries a stable reason
token (a metrics label) and a human detail naming the offending field.
Nothing is built from a frame that is refused for its size: a frame over
the per-type limit is refused before it is parsed (only a building map,
whose ``type`` is read from the frame's first or last member, may be larger).
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetcore.contract import rmf, strict_fleet_state
from fleetcore.contract.robot_reuse import RobotReuse
from fleetcore.errors import IngestRejected

INGEST_PATH = "/_internal"
"""Where a hub takes ingest (and sites take commands), as RMF's fleet adapters expect."""


def ingest_url(hub_url: str, token: str = "") -> str:
    """``ws(s)://host:port/_internal[?token=...]`` from the hub's http(s) base URL."""
    parts = urlsplit(hub_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query = urlencode({"token": token}) if token else ""
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + INGEST_PATH, query, ""))


class CommandResponse(BaseModel):
    """RMF's ApiResponse to a command: its request_id, success, and the rest of RMF's JSON.

    The extra fields (``state``, ``errors``...) are kept as they came: they are
    the response a client gets for its command.
    """

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    request_id: str = Field(min_length=1, max_length=64)
    success: bool


class IngestType(enum.StrEnum):
    FLEET_STATE = "fleet_state_update"
    FLEET_LOG = "fleet_log_update"
    TASK_STATE = "task_state_update"
    TASK_LOG = "task_log_update"
    DOOR_STATE = "door_state_update"
    LIFT_STATE = "lift_state_update"
    DISPENSER_STATE = "dispenser_state_update"
    INGESTOR_STATE = "ingestor_state_update"
    BUILDING_MAP = "building_map_update"
    BEACON_STATE = "beacon_state_update"
    ALERT = "alert_update"
    """An alert RMF raised (ros_bridge); becomes an alert request."""
    ALERT_RESPONSE = "alert_response_update"
    """A response to an alert given at the site (ros_bridge)."""
    DELIVERY_ALERT = "delivery_alert_update"
    """A delivery alert RMF raised (``delivery_alert_request``)."""
    FIRE_ALARM_TRIGGER = "fire_alarm_trigger_update"
    """RMF's fire alarm went on or off (``fire_alarm_trigger``)."""
    COMMAND_RESPONSE = "command_response"
    """RMF's answer to a command the hub sent; completes it, is not published itself."""


MODELS: dict[IngestType, type[BaseModel]] = {
    IngestType.FLEET_STATE: rmf.FleetState,
    IngestType.FLEET_LOG: rmf.FleetLog,
    IngestType.TASK_STATE: rmf.TaskState,
    IngestType.TASK_LOG: rmf.TaskLog,
    IngestType.DOOR_STATE: rmf.DoorState,
    IngestType.LIFT_STATE: rmf.LiftState,
    IngestType.DISPENSER_STATE: rmf.DispenserState,
    IngestType.INGESTOR_STATE: rmf.IngestorState,
    IngestType.BUILDING_MAP: rmf.BuildingMap,
    IngestType.BEACON_STATE: rmf.BeaconState,
    IngestType.ALERT: rmf.RmfAlert,
    IngestType.ALERT_RESPONSE: rmf.RmfAlertResponse,
    IngestType.DELIVERY_ALERT: rmf.DeliveryAlert,
    IngestType.FIRE_ALARM_TRIGGER: rmf.FireAlarmTrigger,
    IngestType.COMMAND_RESPONSE: CommandResponse,
}

_TYPES = frozenset(t.value for t in IngestType)

_ROBOTS = RobotReuse()
"""Robot states of fleet states, reused while unchanged; shared by every hub in the process
(what it keeps is keyed by the JSON it was validated from, so that is safe)."""

LARGE_TYPES = frozenset({IngestType.BUILDING_MAP})
"""Types allowed up to the large-frame limit (maps carry images)."""

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays in a frame (the frame itself is level 1).

Far deeper than any RMF message, and far below the 255 levels where orjson,
which encodes every publication and delivery, gives up.
"""


class Reason(enum.StrEnum):
    """Why an ingest message was rejected; stable, used as a metrics label."""

    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_FRAME = "binary_frame"
    MALFORMED_JSON = "malformed_json"
    NON_FINITE_NUMBER = "non_finite_number"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    TOO_DEEP = "too_deep"
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True, slots=True)
class IngestMessage:
    type: IngestType
    data: Any
    """The validated model instance for ``type``."""


MAX_FRAME_BYTES = 1 << 20
"""Default of :attr:`IngestLimits.max_frame_bytes` (and of the ``ingest_max_frame_bytes`` setting)."""
MAX_MAP_BYTES = 16 << 20
"""Default of :attr:`IngestLimits.max_map_bytes` (and of the ``ingest_max_map_bytes`` setting)."""


@dataclass(frozen=True, slots=True)
class IngestLimits:
    max_frame_bytes: int = MAX_FRAME_BYTES
    """Largest frame of any type but the building map."""
    max_map_bytes: int = MAX_MAP_BYTES
    """Largest building-map frame (images included)."""


class _NonFinite(ValueError):
    pass


def _reject_constant(token: str) -> float:
    raise _NonFinite(token)


_HEAD_TYPE = re.compile(rb'\A\s*\{\s*"type"\s*:\s*"([a-z_]{1,64})"')
_TAIL_TYPE = re.compile(rb'[{,]\s*"type"\s*:\s*"([a-z_]{1,64})"\s*\}\s*\Z')
_TYPE_SCAN_BYTES = 256


def _declared_type(frame: bytes) -> str | None:
    """The top-level ``type`` of a frame, read without parsing it, or None.

    A frame has two members, so ``type`` is its first (as fleethub's senders
    write it) or its last (as RMF's nlohmann::json, which orders keys, writes
    it). Either is read from a few bytes at one end: the first member follows
    the opening brace, and a member followed by nothing but the closing brace
    is a member of the outermost object.
    """
    head = _HEAD_TYPE.match(frame[:_TYPE_SCAN_BYTES])
    if head is None:
        head = _TAIL_TYPE.search(frame[-_TYPE_SCAN_BYTES:])
    return None if head is None else head.group(1).decode()


def _check_size_unparsed(frame: bytes, limits: IngestLimits) -> None:
    if len(frame) > limits.max_map_bytes:
        raise IngestRejected(
            Reason.FRAME_TOO_LARGE, f"{len(frame)} bytes > {limits.max_map_bytes} byte limit"
        )
    if len(frame) > limits.max_frame_bytes and _declared_type(frame) not in LARGE_TYPES:
        raise IngestRejected(
            Reason.FRAME_TOO_LARGE,
            f"{len(frame)} bytes > {limits.max_frame_bytes} byte limit (only a "
            f"{IngestType.BUILDING_MAP.value}, named by the frame's first or last member, "
            f"may have up to {limits.max_map_bytes})",
        )


def _check_depth(doc: Any) -> None:
    """Refuse a document nested deeper than :data:`MAX_DEPTH`, level by level (no recursion)."""
    level = [doc]
    depth = 1
    while level:
        if depth > MAX_DEPTH:
            raise IngestRejected(
                Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels of objects and arrays"
            )
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) is dict or type(item) is list
        ]
        depth += 1


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise IngestRejected(
                Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels of objects and arrays"
            ) from None
        try:
            json.loads(raw, parse_constant=_reject_constant)
        except _NonFinite as nf:
            raise IngestRejected(
                Reason.NON_FINITE_NUMBER, f"{nf} is not a finite JSON number"
            ) from None
        except ValueError:
            pass
        if "infinity" in str(exc):
            raise IngestRejected(Reason.NON_FINITE_NUMBER, str(exc)) from None
        raise IngestRejected(Reason.MALFORMED_JSON, str(exc)) from None


def _describe(error: ValidationError) -> tuple[Reason, str]:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in ("data", *first["loc"]))
    reason = Reason.NON_FINITE_NUMBER if first["type"] == "finite_number" else Reason.INVALID_FIELD
    extra = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return reason, f"{location}: {first['msg']}{extra}"


def decode(raw: bytes | str, limits: IngestLimits = IngestLimits()) -> IngestMessage:
    """Decode and validate one frame, or raise :class:`IngestRejected`.

    A fleet state is tried first as :mod:`~fleetcore.contract.strict_fleet_state`
    decodes it, and decoded here, the full way, only when that does not take it.
    """
    frame = raw.encode() if isinstance(raw, str) else raw
    _check_size_unparsed(frame, limits)
    if len(frame) <= limits.max_frame_bytes and _declared_type(frame) == IngestType.FLEET_STATE:
        fleet = strict_fleet_state.decode(frame)
        if fleet is not None:
            return IngestMessage(type=IngestType.FLEET_STATE, data=fleet)
    doc = _parse_json(frame)
    if not isinstance(doc, dict):
        raise IngestRejected(Reason.NOT_AN_OBJECT, "a frame must be a JSON object {type, data}")
    _check_depth(doc)
    raw_type = doc.get("type")
    if not isinstance(raw_type, str) or raw_type not in _TYPES:
        raise IngestRejected(
            Reason.UNKNOWN_TYPE, f"type {raw_type!r} is not one of {sorted(_TYPES)}"
        )
    kind = IngestType(raw_type)
    if kind not in LARGE_TYPES and len(frame) > limits.max_frame_bytes:
        raise IngestRejected(
            Reason.FRAME_TOO_LARGE,
            f"{kind.value} of {len(frame)} bytes > {limits.max_frame_bytes} byte limit",
        )
    if not isinstance(doc.get("data"), dict):
        raise IngestRejected(Reason.INVALID_FIELD, "data: must be a JSON object")
    try:
        if kind is IngestType.FLEET_STATE:
            model: BaseModel = _ROBOTS.validate(doc["data"])
        else:
            model = MODELS[kind].model_validate(doc["data"])
    except ValidationError as exc:
        reason, detail = _describe(exc)
        raise IngestRejected(reason, detail) from None
    return IngestMessage(type=kind, data=model)


def encode(kind: IngestType, data: BaseModel | dict[str, Any]) -> bytes:
    """The frame a sender puts on the wire (used by the simulator and ros_bridge)."""
    payload = (
        data.model_dump(mode="json", exclude_none=True) if isinstance(data, BaseModel) else data
    )
    return orjson.dumps({"type": kind.value, "data": payload})
