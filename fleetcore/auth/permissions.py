"""What a user may see and do: permissions granted on the objects security groups name.

A role carries (permission, security group) pairs; a user's grants are the
union over their roles, one :class:`Scope` per permission. Every check is a
pure function of the :class:`Principal`, so REST handlers, socket rooms and
tests ask the same questions the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field


class Permission(enum.StrEnum):
    robot_read = "robot_read"
    task_read = "task_read"
    task_submit = "task_submit"
    task_cancel = "task_cancel"
    door_control = "door_control"
    lift_control = "lift_control"
    alert_respond = "alert_respond"
    media_upload = "media_upload"
    """Upload photos and clips for the robots (or fleets) granted on."""
    admin = "admin"
    """Held on any group, it makes the user an administrator of everything."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What one security group names (or the union of several)."""

    fleets: frozenset[str] = frozenset()
    robots: frozenset[tuple[str, str]] = frozenset()
    """Single robots as (fleet, robot)."""
    doors: frozenset[str] = frozenset()
    lifts: frozenset[str] = frozenset()

    def __or__(self, other: Scope) -> Scope:
        return Scope(
            self.fleets | other.fleets,
            self.robots | other.robots,
            self.doors | other.doors,
            self.lifts | other.lifts,
        )

    def covers_robot(self, fleet: str, robot: str) -> bool:
        return fleet in self.fleets or (fleet, robot) in self.robots

    def touches_fleet(self, fleet: str) -> bool:
        """The whole fleet, or at least one robot of it."""
        return fleet in self.fleets or any(f == fleet for f, _ in self.robots)

    @classmethod
    def union(cls, scopes: Iterable[Scope]) -> Scope:
        total = cls()
        for scope in scopes:
            total = total | scope
        return total


EMPTY = Scope()


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user and everything they were granted."""

    username: str
    is_admin: bool
    """An admin sees and may do everything."""
    grants: Mapping[Permission, Scope] = field(hash=False, compare=True)
    """The union over the user's roles' (permission, group) pairs."""
    expires_at: float | None
    """The token's ``exp`` (unix seconds); None: never."""

    def scope(self, p: Permission) -> Scope:
        return self.grants.get(p, EMPTY)

    def holds(self, p: Permission) -> bool:
        """Granted ``p`` on anything at all (the coarse check before an object is known)."""
        return self.is_admin or self.scope(p) != EMPTY

    def can_fleet(self, p: Permission, fleet: str) -> bool:
        """The whole fleet is granted."""
        return self.is_admin or fleet in self.scope(p).fleets

    def can_robot(self, p: Permission, fleet: str, robot: str) -> bool:
        """The robot's fleet or the robot itself is granted."""
        return self.is_admin or self.scope(p).covers_robot(fleet, robot)

    def can_door(self, p: Permission, door: str) -> bool:
        return self.is_admin or door in self.scope(p).doors

    def can_lift(self, p: Permission, lift: str) -> bool:
        return self.is_admin or lift in self.scope(p).lifts

    def sees_robot(self, fleet: str, robot: str) -> bool:
        """Any grant names the robot: another group's robot is not even said to exist (404)."""
        return self.is_admin or any(s.covers_robot(fleet, robot) for s in self.grants.values())

    def sees_fleet(self, fleet: str) -> bool:
        return self.is_admin or any(s.touches_fleet(fleet) for s in self.grants.values())

    def sees_door(self, door: str) -> bool:
        return self.is_admin or any(door in s.doors for s in self.grants.values())

    def sees_lift(self, lift: str) -> bool:
        return self.is_admin or any(lift in s.lifts for s in self.grants.values())

    def view_key(self, p: Permission) -> Hashable:
        """Equal for two principals that may see exactly the same objects under ``p``.

        A fan-out computes each distinct filtered view once per update, not
        once per client, by grouping clients on this key.
        """
        return True if self.is_admin else self.scope(p)


def admin_principal(username: str, expires_at: float | None = None) -> Principal:
    """A principal that may do everything (``auth_mode = "off"``, or a user marked admin)."""
    return Principal(username=username, is_admin=True, grants={}, expires_at=expires_at)


__all__ = ["EMPTY", "Permission", "Principal", "Scope", "admin_principal"]
