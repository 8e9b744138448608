"""Vehicles that vanish: what they hold in traffic control stays held until they are seen again.

A vehicle vanishes when its ``connection`` says OFFLINE or CONNECTIONBROKEN
(the broker's last will), or when its state is silent past the state
timeout. The master control then leaves it out of its fleet's state, so the
hub derives it offline and its reassignment policy (:mod:`hub.derive.reassign`,
carried out by :mod:`hub.reassigner`) cancels its task and dispatches it
again, once: the hub's records are the truth for that, across restarts of
either side.

What the vehicle held (the node it stood on, or its order's base) stays
held: a vehicle that stopped talking may still stand there, so no other
robot is released onto it. It is released when the vehicle is seen again
(its reported state then says where it is, and traffic control follows
that), or when an operator, who has looked, clears it
(:meth:`Recovery.clear`).

Each robot's holding while it runs no order, and every vanished robot's,
is journaled: a restarted master control holds it again before any vehicle
reports, since a vehicle that vanished while it was down never will. The
holdings of running orders come back with their tasks (the journal's order
tracks), so they are not written here on every node passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from vda5050.journal import Journal
from vda5050.traffic import Traffic


@dataclass(frozen=True, slots=True)
class Vanished:
    reason: str
    since_ms: int
    held: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cleared:
    """What :meth:`Recovery.clear` did: the resources released, or why it refused."""

    released: tuple[str, ...] = ()
    refused: str = ""

    @property
    def ok(self) -> bool:
        return not self.refused


class Recovery:
    """Vanished robots and the journaled holdings; see the module doc. Robots are traffic keys."""

    def __init__(self, journal: Journal, traffic: Traffic) -> None:
        self._journal = journal
        self._traffic = traffic
        self.vanished: dict[str, Vanished] = {}

    def restore(self) -> list[str]:
        """Hold again what the journal says; robots running an order already hold theirs.

        Returns the resources another robot held instead (a conflict, never expected).
        """
        conflicts: list[str] = []
        for robot, doc in self._journal.holdings():
            record = orjson.loads(doc)
            held = tuple(record["held"])
            if record["reason"]:
                self.vanished[robot] = Vanished(record["reason"], record["since_ms"], held)
            if robot not in self._traffic.paths:
                conflicts += self._traffic.hold(robot, set(held))
        return conflicts

    def vanish(self, robot: str, reason: str, now_ms: int) -> Vanished | None:
        """``robot`` is gone; what it holds stays held. None if it was gone already."""
        if robot in self.vanished:
            return None
        record = Vanished(reason, now_ms, tuple(sorted(self._traffic.held(robot))))
        self.vanished[robot] = record
        self._save(robot, record.held, reason, now_ms)
        return record

    def seen(self, robot: str) -> Vanished | None:
        """``robot`` reports again; what it was gone for, if it was."""
        record = self.vanished.pop(robot, None)
        if record is not None:
            self._save(robot, tuple(sorted(self._traffic.held(robot))), "", 0)
        return record

    def stood(self, robot: str) -> None:
        """``robot`` without an order holds the node it stands on: journaled for a restart."""
        self._save(robot, tuple(sorted(self._traffic.held(robot))), "", 0)

    def clear(self, robot: str) -> Cleared:
        """Release everything vanished ``robot`` holds (an operator's decision)."""
        if robot not in self.vanished:
            return Cleared(
                refused="it still reports its state, so it holds where it is (not vanished)"
            )
        released = tuple(sorted(self._traffic.held(robot)))
        self._traffic.clear(robot)
        del self.vanished[robot]
        self._journal.forget_holding(robot)
        return Cleared(released)

    def _save(self, robot: str, held: tuple[str, ...], reason: str, since_ms: int) -> None:
        doc = {"held": held, "reason": reason, "since_ms": since_ms}
        self._journal.save_holding(robot, orjson.dumps(doc))
