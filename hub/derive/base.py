"""What derivation produces: events, alert actions and commands, as plain values.

Derivers never do I/O. The hub turns an :class:`Output` into publications
and rows (``hub.derive.publish``), so derived facts get a seq, are committed
with the input that caused them and survive restarts like everything else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from fleetcore.contract.limits import CONDITION_BYTES, NAME_BYTES

Severity = Literal["info", "warning", "error"]
"""rmf-web's alert tiers; events use the same three."""


@dataclass(frozen=True, slots=True)
class Event:
    """One derived fact at one moment (hub receive time), e.g. a robot going offline."""

    kind: str
    time_ms: int
    severity: Severity = "info"
    fleet: str | None = None
    robot: str | None = None
    task_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "unix_millis_time": self.time_ms,
            "fleet": self.fleet,
            "robot": self.robot,
            "task_id": self.task_id,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class AlertOpen:
    """Open an alert for a condition; ``condition`` is unique while the alert is open."""

    condition: str
    time_ms: int
    tier: Severity
    title: str
    subtitle: str
    message: str
    task_id: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def alert_id(self) -> str:
        """Deterministic, so a replay names the same alerts: the condition and when it opened."""
        return f"{fitted(self.condition, NAME_BYTES - len(f'@{self.time_ms}'))}@{self.time_ms}"


def fitted(key: str, max_bytes: int = CONDITION_BYTES) -> str:
    """``key`` (``kind/names...``) itself when it fits its column, else its kind and a digest.

    Names of fleets, robots and tasks each fit their own columns, but a key
    made of two of them may not; the digest keeps such a key unique and
    within ``max_bytes`` (and, having no second ``/``, names no robot on restore).
    """
    if len(key.encode()) <= max_bytes:
        return key
    kind = key.partition("/")[0]
    return f"{kind}/#{hashlib.sha256(key.encode()).hexdigest()[:40]}"


@dataclass(frozen=True, slots=True)
class AlertClose:
    """The condition behind an open alert no longer holds."""

    alert_id: str
    condition: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class Command:
    """A command the hub decided to send RMF, recorded as a ``HubCommand`` and executed once.

    ``key`` is the idempotency key: derived from what caused the command, so
    the same cause never yields two commands, across restarts included.
    ``body`` is the RMF request JSON of ``kind``, as a client would send it.
    """

    key: str
    kind: Literal["cancel_task", "dispatch_task"]
    time_ms: int
    task_id: str
    """The task the decision is about (for a reassignment, the original task)."""
    fleet: str
    robot: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "unix_millis_time": self.time_ms,
            "task_id": self.task_id,
            "fleet": self.fleet,
            "robot": self.robot,
            "body": self.body,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Command:
        """A command as its ``HubCommand`` row stored it."""
        return cls(
            doc["key"],
            doc["kind"],
            doc["unix_millis_time"],
            doc["task_id"],
            doc["fleet"],
            doc["robot"],
            doc["body"],
        )


@dataclass(frozen=True, slots=True)
class PositionSample:
    """One downsampled point of a robot's history (``hub.derive.positions`` decides which)."""

    fleet: str
    robot: str
    time_ms: int
    map: str
    x: float
    y: float
    yaw: float
    status: str | None
    battery: float | None


@dataclass(slots=True)
class Output:
    """Everything one input or tick derived, in the order it was derived."""

    events: list[Event] = field(default_factory=list)
    opened: list[AlertOpen] = field(default_factory=list)
    closed: list[AlertClose] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    samples: list[PositionSample] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        self.events += other.events
        self.opened += other.opened
        self.closed += other.closed
        self.commands += other.commands
        self.samples += other.samples

    def __bool__(self) -> bool:
        return bool(self.events or self.opened or self.closed or self.commands or self.samples)
