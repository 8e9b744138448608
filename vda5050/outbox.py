"""What the master control publishes to vehicles, with the protocol header and increasing headerIds.

``headerId`` grows by one per message, per vehicle and topic, and must keep
growing across restarts of the master control: each counter takes blocks of
:data:`HEADER_BLOCK` values from the journal, so a restart continues past
the block the last run had (a jump, never a repeat; the spec only asks that
ids increase, since messages may be lost anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fleetcore.contract.vda5050 import DELIVERY, Topic, Topics, VehicleId, encode, v2
from fleetcore.mqtt import Outgoing
from vda5050.journal import Journal

HEADER_BLOCK = 1000
PROTOCOL_VERSION = "2.1.0"


class HeaderIds:
    def __init__(self, journal: Journal, block: int = HEADER_BLOCK) -> None:
        self._journal = journal
        self._block = block
        self._next: dict[str, tuple[int, int]] = {}

    def next(self, vehicle: VehicleId, topic: Topic) -> int:
        key = f"{vehicle}/{topic}"
        value, end = self._next.get(key, (0, 0))
        if value >= end:
            value = self._journal.reserve(key, self._block)
            end = value + self._block
        self._next[key] = (value + 1, end)
        return value


class Outbox:
    """Builds ``order`` and ``instantActions`` messages and hands them to the MQTT link."""

    def __init__(
        self,
        topics: Topics,
        journal: Journal,
        publish: Callable[[Outgoing], bool],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._topics = topics
        self._headers = HeaderIds(journal)
        self._publish = publish
        self._clock = clock

    def order(self, vehicle: VehicleId, body: dict[str, Any]) -> v2.Order:
        message = v2.Order(**self._header(vehicle, Topic.ORDER), **body)
        self._send(vehicle, Topic.ORDER, message)
        return message

    def instant_actions(self, vehicle: VehicleId, actions: list[v2.Action]) -> v2.InstantActions:
        message = v2.InstantActions(**self._header(vehicle, Topic.INSTANT_ACTIONS), actions=actions)
        self._send(vehicle, Topic.INSTANT_ACTIONS, message)
        return message

    def _header(self, vehicle: VehicleId, topic: Topic) -> dict[str, Any]:
        return {
            "headerId": self._headers.next(vehicle, topic),
            "timestamp": self._clock(),
            "version": PROTOCOL_VERSION,
            "manufacturer": vehicle.manufacturer,
            "serialNumber": vehicle.serial_number,
        }

    def _send(self, vehicle: VehicleId, topic: Topic, message: v2.VdaModel) -> None:
        delivery = DELIVERY[topic]
        self._publish(
            Outgoing(
                self._topics.of(vehicle, topic),
                encode(message),
                qos=delivery.qos,
                retain=delivery.retain,
            )
        )
