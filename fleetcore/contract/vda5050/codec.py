"""Encoding VDA 5050 messages, and decoding what vehicles send: size, JSON, types, enums, finite numbers, header and version.

Every rejection carries a stable reason (a metrics label) and a detail naming
the offending field, like hub ingest's. Parsing and validation are one pass of
pydantic's JSON parser in strict mode, so a message is read once.
"""

from __future__ import annotations

import enum
from typing import TypeVar

import orjson
from pydantic import ValidationError

from fleetcore.contract.vda5050 import v2
from fleetcore.contract.vda5050.topics import Topic, VehicleId
from fleetcore.errors import ContractError

SUPPORTED_MAJOR = "2"
"""The major version spoken on the wire (2.0 and 2.1 vehicles both)."""

MODELS: dict[Topic, type[v2.VdaModel]] = {
    Topic.STATE: v2.State,
    Topic.CONNECTION: v2.Connection,
    Topic.FACTSHEET: v2.Factsheet,
    Topic.VISUALIZATION: v2.Visualization,
    Topic.ORDER: v2.Order,
    Topic.INSTANT_ACTIONS: v2.InstantActions,
}

M = TypeVar("M", bound=v2.VdaModel)


class Reason(enum.StrEnum):
    """Why a VDA 5050 message was rejected; stable, used as a metrics label."""

    MESSAGE_TOO_LARGE = "message_too_large"
    MALFORMED_JSON = "malformed_json"
    NON_FINITE_NUMBER = "non_finite_number"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_FIELD = "invalid_field"
    UNSUPPORTED_VERSION = "unsupported_version"
    WRONG_VEHICLE = "wrong_vehicle"
    """The header names another vehicle than the topic it came on."""
    UNKNOWN_VEHICLE = "unknown_vehicle"
    """A vehicle nobody configured, refused because no default fleet takes it."""


class VdaRejected(ContractError):
    """A VDA 5050 message was refused; ``reason`` is a :class:`Reason`."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode(topic: Topic, vehicle: VehicleId, payload: bytes, max_bytes: int) -> v2.VdaModel:
    """Validate one message that came on ``vehicle``'s ``topic``, or raise :class:`VdaRejected`."""
    if len(payload) > max_bytes:
        raise VdaRejected(
            Reason.MESSAGE_TOO_LARGE, f"{topic} of {len(payload)} bytes > {max_bytes} byte limit"
        )
    message = parse(MODELS[topic], payload)
    version = getattr(message, "version", None)
    if version is not None and version.split(".")[0] != SUPPORTED_MAJOR:
        raise VdaRejected(
            Reason.UNSUPPORTED_VERSION,
            f"version {version!r}: this master control speaks {SUPPORTED_MAJOR}.x",
        )
    named = (getattr(message, "manufacturer", None), getattr(message, "serialNumber", None))
    if named != (None, None) and named != (vehicle.manufacturer, vehicle.serial_number):
        raise VdaRejected(
            Reason.WRONG_VEHICLE,
            f"header names {named[0]}/{named[1]} but the message came on {vehicle}'s topic",
        )
    return message


def parse(model: type[M], payload: bytes) -> M:
    """``payload`` as ``model`` (strict JSON types), or :class:`VdaRejected` with the first problem."""
    try:
        return model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        raise _rejection(exc) from None


def _rejection(error: ValidationError) -> VdaRejected:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"]) or "message"
    extra = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    reason = {
        "json_invalid": Reason.MALFORMED_JSON,
        "finite_number": Reason.NON_FINITE_NUMBER,
        "model_type": Reason.NOT_AN_OBJECT,
        "model_attributes_type": Reason.NOT_AN_OBJECT,
    }.get(first["type"], Reason.INVALID_FIELD)
    if reason is Reason.NOT_AN_OBJECT and first["loc"]:
        reason = Reason.INVALID_FIELD
    return VdaRejected(reason, f"{location}: {first['msg']}{extra}")


def encode(message: v2.VdaModel) -> bytes:
    """A message as it goes on the wire: JSON, optional fields left out rather than null."""
    return orjson.dumps(message.model_dump(mode="json", exclude_none=True))
