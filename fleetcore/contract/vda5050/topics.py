"""VDA 5050 MQTT topics: ``{interfaceName}/{majorVersion}/{manufacturer}/{serialNumber}/{topic}``.

Each topic's QoS and retain flag are the spec's (section 6.2, 6.14, 6.15):
QoS 0 for everything but ``connection`` (QoS 1); ``connection`` and
``factsheet`` are retained.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from fleetcore.errors import ConfigError


class Topic(enum.StrEnum):
    ORDER = "order"
    INSTANT_ACTIONS = "instantActions"
    STATE = "state"
    VISUALIZATION = "visualization"
    CONNECTION = "connection"
    FACTSHEET = "factsheet"


@dataclass(frozen=True, slots=True)
class Delivery:
    qos: int
    retain: bool


DELIVERY: dict[Topic, Delivery] = {
    Topic.ORDER: Delivery(0, False),
    Topic.INSTANT_ACTIONS: Delivery(0, False),
    Topic.STATE: Delivery(0, False),
    Topic.VISUALIZATION: Delivery(0, False),
    Topic.CONNECTION: Delivery(1, True),
    Topic.FACTSHEET: Delivery(0, True),
}

VEHICLE_TOPICS = (Topic.STATE, Topic.CONNECTION, Topic.FACTSHEET, Topic.VISUALIZATION)
"""What vehicles publish and a master control subscribes to."""
MASTER_TOPICS = (Topic.ORDER, Topic.INSTANT_ACTIONS)
"""What a master control publishes and vehicles subscribe to."""

_LEVEL = re.compile(r"^[A-Za-z0-9_.:\-]+$")
"""The characters the spec allows in serial numbers; ``/``, ``+``, ``#`` and ``$`` never."""


def check_level(value: str, what: str) -> str:
    """A topic level that is safe to publish and subscribe on, or :class:`ConfigError`."""
    if not _LEVEL.match(value):
        raise ConfigError(f"{what} {value!r} must be letters, digits, '_', '-', '.' or ':'")
    return value


@dataclass(frozen=True, slots=True)
class VehicleId:
    manufacturer: str
    serial_number: str

    def __str__(self) -> str:
        return f"{self.manufacturer}/{self.serial_number}"


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic scheme of one deployment: interface name and major version (``uagv``, ``v2``)."""

    interface: str = "uagv"
    major: str = "v2"

    def __post_init__(self) -> None:
        check_level(self.interface, "the VDA 5050 interface name")
        check_level(self.major, "the VDA 5050 major version")

    def of(self, vehicle: VehicleId, topic: Topic) -> str:
        return (
            f"{self.interface}/{self.major}/{vehicle.manufacturer}/{vehicle.serial_number}/{topic}"
        )

    def every(self, topic: Topic) -> str:
        """The filter that matches ``topic`` of every vehicle."""
        return f"{self.interface}/{self.major}/+/+/{topic}"

    def parse(self, name: str) -> tuple[VehicleId, Topic] | None:
        """The vehicle and topic a topic name addresses; None if it is not one of ours."""
        parts = name.split("/")
        if len(parts) != 5 or parts[0] != self.interface or parts[1] != self.major:
            return None
        try:
            topic = Topic(parts[4])
        except ValueError:
            return None
        if not (_LEVEL.match(parts[2]) and _LEVEL.match(parts[3])):
            return None
        return VehicleId(parts[2], parts[3]), topic
