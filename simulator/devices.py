"""Doors, the lift, dispensers and ingestors: small timed state machines.

Each device reports whether its published state changed in a step, so the
simulator sends device states on change (and periodically) as RMF's device
adapters do, instead of flooding the hub every tick.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from simulator.building import DoorSpec, LiftSpec

DOOR_CLOSED, DOOR_MOVING, DOOR_OPEN = 0, 1, 2
MOTION_STOPPED, MOTION_UP, MOTION_DOWN = 0, 1, 2
LIFT_MODE_HUMAN, LIFT_MODE_AGV = 1, 2
HANDLER_IDLE, HANDLER_BUSY = 0, 1

DOOR_SENSE_RADIUS_M = 2.5
"""A door opens while a robot is this close to its middle."""
DOOR_TRAVEL_S = 1.0
LIFT_FLOOR_TRAVEL_S = 4.0
LIFT_DOOR_S = 1.0
LIFT_BOARD_S = 2.0


def ros_time(now_ms: int) -> dict[str, int]:
    return {"sec": now_ms // 1000, "nanosec": (now_ms % 1000) * 1_000_000}


@dataclass(slots=True)
class SimDoor:
    spec: DoorSpec
    mode: int = DOOR_CLOSED
    _target: int = DOOR_CLOSED
    _moving_left: float = 0.0
    held_open: bool = False
    """Opened by a door request (until one asks it closed), robots or not."""

    def step(self, dt: float, robot_near: bool) -> bool:
        """Open for nearby robots or a request, closed otherwise; ``True`` when the mode changed."""
        target = DOOR_OPEN if robot_near or self.held_open else DOOR_CLOSED
        before = self.mode
        if target != self._target:
            self._target = target
            self._moving_left = DOOR_TRAVEL_S
            self.mode = DOOR_MOVING
        elif self.mode == DOOR_MOVING:
            self._moving_left -= dt
            if self._moving_left <= 0:
                self.mode = target
        return self.mode != before

    def is_near(self, level: str, x: float, y: float) -> bool:
        cx, cy = self.spec.center
        return level == self.spec.level and math.hypot(x - cx, y - cy) <= DOOR_SENSE_RADIUS_M

    def state(self, now_ms: int) -> dict[str, Any]:
        return {
            "door_time": ros_time(now_ms),
            "door_name": self.spec.name,
            "current_mode": {"value": self.mode},
        }


@dataclass(slots=True)
class _LiftLeg:
    """One timed stretch of a ride: where the cabin is, its door and motion."""

    seconds: float
    floor: str
    destination: str
    door: int
    motion: int
    delivers: bool = False
    """At the end of this leg the rider has arrived and leaves the cabin."""


@dataclass(slots=True)
class SimLift:
    """Serves one rider at a time, in request order, as a lift in AGV mode does."""

    spec: LiftSpec
    floors: list[str]
    current_floor: str
    _queue: deque[tuple[str, str, str]] = field(default_factory=deque)
    _legs: deque[_LiftLeg] = field(default_factory=deque)
    _rider: str = ""
    _delivered: set[str] = field(default_factory=set)
    _left: float = 0.0

    def request(self, rider: str, from_floor: str, to_floor: str) -> bool:
        """Queue a ride; ``True`` if new (asking again while waiting is a no-op)."""
        if rider == self._rider or any(r == rider for r, _, _ in self._queue):
            return False
        self._queue.append((rider, from_floor, to_floor))
        return True

    def cancel(self, rider: str) -> None:
        """Forget ``rider``: a ride in progress finishes empty."""
        self._queue = deque(q for q in self._queue if q[0] != rider)
        self._delivered.discard(rider)
        if self._rider == rider:
            self._rider = ""

    def take_arrival(self, rider: str) -> bool:
        """``True`` once, when ``rider`` has reached its floor."""
        if rider in self._delivered:
            self._delivered.discard(rider)
            return True
        return False

    @property
    def leg(self) -> _LiftLeg | None:
        return self._legs[0] if self._legs else None

    def step(self, dt: float) -> bool:
        before = self._published()
        if not self._legs and self._queue:
            self._start(*self._queue.popleft())
        budget = dt
        while self._legs and budget > 0:
            leg = self._legs[0]
            take = min(budget, self._left)
            self._left -= take
            budget -= take
            if self._left > 1e-9:
                break
            self._legs.popleft()
            self.current_floor = leg.destination
            if leg.delivers and self._rider:
                self._delivered.add(self._rider)
            if self._legs:
                self._left = self._legs[0].seconds
            else:
                self._rider = ""
        return self._published() != before

    def _start(self, rider: str, frm: str, to: str) -> None:
        self._rider = rider
        legs: list[_LiftLeg] = []
        if self.current_floor != frm:
            legs.append(self._travel(self.current_floor, frm))
        legs += [
            _LiftLeg(LIFT_DOOR_S, frm, frm, DOOR_MOVING, MOTION_STOPPED),
            _LiftLeg(LIFT_BOARD_S, frm, frm, DOOR_OPEN, MOTION_STOPPED),
            _LiftLeg(LIFT_DOOR_S, frm, frm, DOOR_MOVING, MOTION_STOPPED),
            self._travel(frm, to),
            _LiftLeg(LIFT_DOOR_S, to, to, DOOR_MOVING, MOTION_STOPPED, delivers=True),
            _LiftLeg(LIFT_BOARD_S, to, to, DOOR_OPEN, MOTION_STOPPED),
            _LiftLeg(LIFT_DOOR_S, to, to, DOOR_MOVING, MOTION_STOPPED),
        ]
        self._legs = deque(legs)
        self._left = self._legs[0].seconds

    def _travel(self, frm: str, to: str) -> _LiftLeg:
        floors = abs(self.floors.index(to) - self.floors.index(frm))
        up = self.floors.index(to) > self.floors.index(frm)
        return _LiftLeg(
            LIFT_FLOOR_TRAVEL_S * floors, frm, to, DOOR_CLOSED, MOTION_UP if up else MOTION_DOWN
        )

    def _published(self) -> tuple[str, str, int, int, str]:
        leg = self.leg
        if leg is None:
            return (self.current_floor, self.current_floor, DOOR_CLOSED, MOTION_STOPPED, "")
        return (leg.floor, leg.destination, leg.door, leg.motion, self._rider)

    def state(self, now_ms: int) -> dict[str, Any]:
        floor, destination, door, motion, session = self._published()
        return {
            "lift_time": ros_time(now_ms),
            "lift_name": self.spec.name,
            "available_floors": list(self.floors),
            "current_floor": floor,
            "destination_floor": destination,
            "door_state": door,
            "motion_state": motion,
            "available_modes": [LIFT_MODE_HUMAN, LIFT_MODE_AGV],
            "current_mode": LIFT_MODE_AGV,
            "session_id": session,
        }


@dataclass(slots=True)
class SimHandler:
    """A dispenser or ingestor: busy for a while per request, then idle again."""

    guid: str
    mode: int = HANDLER_IDLE
    _requests: deque[tuple[str, float]] = field(default_factory=deque)
    _finished: set[str] = field(default_factory=set)
    _left: float = 0.0

    def request(self, request_guid: str, seconds: float) -> None:
        self._requests.append((request_guid, seconds))
        if len(self._requests) == 1:
            self._left = seconds

    def abandon(self, request_guid: str) -> None:
        head = self._requests[0][0] if self._requests else ""
        self._requests = deque(r for r in self._requests if r[0] != request_guid)
        if head == request_guid and self._requests:
            self._left = self._requests[0][1]
        self._finished.discard(request_guid)

    def take_finished(self, request_guid: str) -> bool:
        if request_guid in self._finished:
            self._finished.discard(request_guid)
            return True
        return False

    def step(self, dt: float) -> bool:
        before = self.mode
        if self._requests:
            self._left -= dt
            if self._left <= 0:
                done, _ = self._requests.popleft()
                self._finished.add(done)
                if self._requests:
                    self._left = self._requests[0][1]
        self.mode = HANDLER_BUSY if self._requests else HANDLER_IDLE
        return self.mode != before

    def state(self, now_ms: int) -> dict[str, Any]:
        return {
            "time": ros_time(now_ms),
            "guid": self.guid,
            "mode": self.mode,
            "request_guid_queue": [r for r, _ in self._requests],
            "seconds_remaining": round(max(0.0, self._left), 2) if self._requests else 0.0,
        }
