"""A simulated VDA 5050 vehicle: takes orders and instant actions, drives, reports its state.

It follows the spec's rules as a vehicle must (section 6.6, figure 8): a new
order only when idle and starting where it stands; an update only with a
higher ``orderUpdateId`` that stitches onto its decision point (the same
``orderUpdateId`` twice is ignored); it drives released nodes only, stops
at the decision point, reports each node traversed (``lastNodeId``,
``lastNodeSequenceId``, the node's state removed) and then runs the node's
actions in order (``pick``/``drop`` take ``action_s``, blocking driving).
``cancelOrder`` stops it and fails what was left. The battery drains per
metre and while idle, and charges while the vehicle stands idle on a
charger node (or after ``startCharging``).

Time is injected through ``step(dt)``; nothing here reads a clock, so a
test runs a vehicle's hour in milliseconds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleetcore.contract.vda5050 import v2

VERSION = "2.1.0"
ARRIVAL_M = 0.01


@dataclass(frozen=True, slots=True)
class VehicleProfile:
    speed_mps: float = 1.0
    action_s: float = 3.0
    failure_probability: float = 0.0
    drain_per_m: float = 0.05
    """Battery percent per metre driven."""
    idle_drain_per_s: float = 0.005
    charge_per_s: float = 1.0


@dataclass(slots=True)
class Running:
    action: v2.Action
    left_s: float


@dataclass
class SimVehicle:
    manufacturer: str
    serial_number: str
    map_id: str
    x: float
    y: float
    node_id: str
    """The node it stands on at start: its ``lastNodeId``."""
    profile: VehicleProfile = field(default_factory=VehicleProfile)
    chargers: frozenset[str] = frozenset()
    """Node ids where an idle vehicle charges."""
    battery: float = 90.0
    seed: int = 0
    theta: float = 0.0
    order_id: str = ""
    order_update_id: int = 0
    last_node_id: str = ""
    last_node_sequence_id: int = 0
    nodes: list[v2.Node] = field(default_factory=list)
    edges: list[v2.Edge] = field(default_factory=list)
    action_states: dict[str, v2.ActionState] = field(default_factory=dict)
    pending: list[v2.Action] = field(default_factory=list)
    """Actions of the last traversed node not started yet."""
    running: Running | None = None
    errors: list[v2.Error] = field(default_factory=list)
    paused: bool = False
    charging: bool = False
    driving: bool = False
    operating_mode: str = "AUTOMATIC"
    halted: bool = False
    """An injected fault (an obstacle, a scanner) holds it still until cleared."""
    loads: list[v2.Load] = field(default_factory=list)
    changed: bool = True
    """An event the spec says to report at once (a node traversed, an order taken...)."""

    def __post_init__(self) -> None:
        self.last_node_id = self.last_node_id or self.node_id
        self._rng = random.Random(self.seed)

    # ------------------------------------------------------------- orders

    def on_order(self, order: v2.Order, header_id: int) -> None:
        problem = _malformed(order)
        if problem:
            self._warn("validationError", problem, orderId=order.orderId, headerId=str(header_id))
            return
        if order.orderId != self.order_id:
            self._new_order(order)
        elif order.orderUpdateId < self.order_update_id:
            self._warn(
                "orderUpdateError",
                f"orderUpdateId {order.orderUpdateId} is older than {self.order_update_id}",
                orderId=order.orderId,
            )
        elif order.orderUpdateId > self.order_update_id:
            self._update(order)

    def _busy(self) -> bool:
        return bool(self.nodes) or self.running is not None or bool(self.pending)

    def _new_order(self, order: v2.Order) -> None:
        if self._busy():
            self._warn("orderError", "still executing another order", orderId=order.orderId)
            return
        first = order.nodes[0]
        position = first.nodePosition
        if position is not None:
            gap = math.hypot(position.x - self.x, position.y - self.y)
            allowed = position.allowedDeviationXY or 0.1
            if position.mapId != self.map_id or gap > allowed:
                self._warn(
                    "noRouteError",
                    f"the first node {first.nodeId} is {gap:.2f} m away",
                    orderId=order.orderId,
                )
                return
        self._clear_order_errors()
        self.order_id = order.orderId
        self.order_update_id = order.orderUpdateId
        # Instant actions finish at once here, so no running one is left to keep (spec 6.10.6).
        self.action_states = {}
        self.nodes = list(order.nodes)
        self.edges = list(order.edges)
        self._announce(order.nodes)
        self._traverse()
        self.changed = True

    def _update(self, order: v2.Order) -> None:
        released = [n for n in self.nodes if n.released]
        decision = (
            (released[-1].nodeId, released[-1].sequenceId)
            if released
            else (self.last_node_id, self.last_node_sequence_id)
        )
        first = order.nodes[0]
        if (first.nodeId, first.sequenceId) != decision:
            self._warn(
                "orderUpdateError",
                f"the update starts at {first.nodeId}/{first.sequenceId}, not at {decision[0]}/{decision[1]}",
                orderId=order.orderId,
            )
            return
        self._clear_order_errors()
        self.order_update_id = order.orderUpdateId
        # The stitching node is either still ahead (released, kept) or the one it stands on.
        self.nodes = [n for n in self.nodes if n.released] + list(order.nodes[1:])
        self.edges = [e for e in self.edges if e.released] + list(order.edges)
        self._announce(order.nodes[1:])
        self.changed = True

    def _announce(self, nodes: list[v2.Node]) -> None:
        for node in nodes:
            for action in node.actions:
                self.action_states.setdefault(
                    action.actionId,
                    v2.ActionState(
                        actionId=action.actionId,
                        actionType=action.actionType,
                        actionStatus="WAITING",
                    ),
                )

    # ----------------------------------------------------------- instant

    def on_instant_actions(self, message: v2.InstantActions) -> None:
        for action in message.actions:
            self.changed = True
            if action.actionType == "cancelOrder":
                self._cancel(action)
            elif action.actionType in ("startPause", "stopPause"):
                self.paused = action.actionType == "startPause"
                self._done(action, "FINISHED")
            elif action.actionType in ("startCharging", "stopCharging"):
                self.charging = action.actionType == "startCharging"
                self._done(action, "FINISHED")
            elif action.actionType in ("stateRequest", "factsheetRequest"):
                self._done(action, "FINISHED")
            else:
                self._done(action, "FAILED", f"{action.actionType} is not supported")

    def _cancel(self, action: v2.Action) -> None:
        if not self.order_id or not (self._busy() or self.nodes):
            self._done(action, "FAILED")
            self._warn("noOrderToCancel", "there is no order to cancel", actionId=action.actionId)
            return
        self.nodes, self.edges, self.pending, self.running = [], [], [], None
        for state in self.action_states.values():
            if state.actionStatus not in v2.DONE_STATUSES:
                state.actionStatus = "FAILED"
        self.driving = False
        self._done(action, "FINISHED")

    def _done(self, action: v2.Action, status: v2.ActionStatus, result: str = "") -> None:
        self.action_states[action.actionId] = v2.ActionState(
            actionId=action.actionId,
            actionType=action.actionType,
            actionStatus=status,
            resultDescription=result or None,
        )

    # ------------------------------------------------------------- time

    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds: run actions, drive, traverse nodes, drain or charge."""
        driven = 0.0
        fatal = any(e.errorLevel == "FATAL" for e in self.errors)
        if not (self.paused or fatal or self.halted):
            if self.running is None and self.pending:
                self._start_action(self.pending.pop(0))
            if self.running is not None:
                self._run_action(dt)
            else:
                driven = self._drive(dt)
        if self.driving != (driven > 0):
            self.driving = driven > 0
            self.changed = True
        idle_on_charger = not self._busy() and self.last_node_id in self.chargers
        if (self.charging or idle_on_charger) and not self.driving:
            self.battery = min(100.0, self.battery + self.profile.charge_per_s * dt)
            self.charging = self.battery < 100.0 and (self.charging or idle_on_charger)
        else:
            self.battery = max(
                0.0,
                self.battery
                - driven * self.profile.drain_per_m
                - dt * self.profile.idle_drain_per_s,
            )
        if self.battery <= 0.0 and not fatal:
            self.errors.append(
                v2.Error(
                    errorType="batteryEmpty",
                    errorLevel="FATAL",
                    errorDescription="battery depleted",
                )
            )
            self.changed = True

    def _start_action(self, action: v2.Action) -> None:
        self.running = Running(action, self.profile.action_s)
        self.action_states[action.actionId] = v2.ActionState(
            actionId=action.actionId, actionType=action.actionType, actionStatus="RUNNING"
        )
        self.changed = True

    def _run_action(self, dt: float) -> None:
        running = self.running
        assert running is not None
        running.left_s -= dt
        if running.left_s > 0:
            return
        self.running = None
        action = running.action
        if self._rng.random() < self.profile.failure_probability:
            self._done(action, "FAILED", f"{action.actionType} failed at {self.last_node_id}")
            self._warn(
                f"{action.actionType}Failed",
                "the station did not hand over",
                actionId=action.actionId,
            )
        else:
            if action.actionType == "pick":
                self.loads = [v2.Load(loadId=action.actionId, loadType=_param(action, "loadType"))]
            elif action.actionType == "drop":
                self.loads = []
            self._done(action, "FINISHED")
        self.changed = True

    def _drive(self, dt: float) -> float:
        budget = self.profile.speed_mps * dt
        driven = 0.0
        while budget > 1e-9 and self.nodes and self.nodes[0].released and not self.pending:
            target = self.nodes[0].nodePosition
            if target is None:
                self._traverse()
                continue
            dx, dy = target.x - self.x, target.y - self.y
            gap = math.hypot(dx, dy)
            if gap > 1e-9:
                self.theta = math.atan2(dy, dx)
            if gap <= budget + ARRIVAL_M:
                step = min(gap, budget)
                self.x, self.y = target.x, target.y
                budget -= step
                driven += step
                self._traverse()
            else:
                self.x += dx / gap * budget
                self.y += dy / gap * budget
                driven += budget
                budget = 0.0
        return driven

    def _traverse(self) -> None:
        """The first node is reached: report it and queue its actions."""
        node = self.nodes.pop(0)
        self.edges = [e for e in self.edges if e.sequenceId > node.sequenceId]
        self.last_node_id = node.nodeId
        self.last_node_sequence_id = node.sequenceId
        if node.nodePosition is not None:
            self.map_id = node.nodePosition.mapId
        self.pending.extend(node.actions)
        self.changed = True

    # ------------------------------------------------------------- errors

    def _warn(self, error_type: str, description: str, **references: str) -> None:
        self.errors = [e for e in self.errors if e.errorType != error_type]
        self.errors.append(
            v2.Error(
                errorType=error_type,
                errorLevel="WARNING",
                errorDescription=description,
                errorReferences=[
                    v2.Reference(referenceKey=k, referenceValue=v) for k, v in references.items()
                ],
            )
        )
        self.changed = True

    def _clear_order_errors(self) -> None:
        self.errors = [
            e
            for e in self.errors
            if e.errorType
            not in ("validationError", "orderError", "orderUpdateError", "noRouteError")
        ]

    def inject_error(self, error_type: str, level: str, description: str = "") -> None:
        """Stop the vehicle with an error, as a real one reports a fault (tests and demos)."""
        self.halted = True
        self.errors.append(
            v2.Error(errorType=error_type, errorLevel=level, errorDescription=description or None)  # type: ignore[arg-type]
        )
        self.changed = True

    def clear_errors(self) -> None:
        self.errors = []
        self.halted = False
        self.changed = True

    # -------------------------------------------------------------- state

    def header(self, header_id: int, now: datetime | None = None) -> dict[str, object]:
        return {
            "headerId": header_id,
            "timestamp": now or datetime.now(UTC),
            "version": VERSION,
            "manufacturer": self.manufacturer,
            "serialNumber": self.serial_number,
        }

    def state(self, header_id: int, now: datetime | None = None) -> v2.State:
        released_left = [n for n in self.nodes if n.released]
        return v2.State(
            **self.header(header_id, now),  # type: ignore[arg-type]
            orderId=self.order_id,
            orderUpdateId=self.order_update_id,
            lastNodeId=self.last_node_id,
            lastNodeSequenceId=self.last_node_sequence_id,
            driving=self.driving,
            paused=self.paused,
            newBaseRequest=bool(self.nodes)
            and len(released_left) <= 1
            and len(self.nodes) > len(released_left),
            operatingMode=self.operating_mode,  # type: ignore[arg-type]
            nodeStates=[
                v2.NodeState(nodeId=n.nodeId, sequenceId=n.sequenceId, released=n.released)
                for n in self.nodes
            ],
            edgeStates=[
                v2.EdgeState(edgeId=e.edgeId, sequenceId=e.sequenceId, released=e.released)
                for e in self.edges
            ],
            agvPosition=v2.AgvPosition(
                x=round(self.x, 3),
                y=round(self.y, 3),
                theta=round(self.theta, 4),
                mapId=self.map_id,
                positionInitialized=True,
            ),
            velocity=v2.Velocity(
                vx=self.profile.speed_mps if self.driving else 0.0, vy=0.0, omega=0.0
            ),
            loads=list(self.loads),
            actionStates=list(self.action_states.values()),
            batteryState=v2.BatteryState(
                batteryCharge=round(self.battery, 2), charging=self.charging
            ),
            errors=list(self.errors),
            information=[],
            safetyState=v2.SafetyState(eStop="NONE", fieldViolation=False),
        )


def _param(action: v2.Action, key: str) -> str | None:
    for parameter in action.actionParameters or []:
        if parameter.key == key:
            return str(parameter.value)
    return None


def _malformed(order: v2.Order) -> str:
    """What makes ``order`` invalid beyond its JSON types (spec 6.6.1), or an empty string."""
    if not order.nodes:
        return "an order needs at least one node"
    if len(order.edges) != len(order.nodes) - 1:
        return f"{len(order.nodes)} nodes need {len(order.nodes) - 1} edges, not {len(order.edges)}"
    released = [n.released for n in order.nodes]
    if released != sorted(released, reverse=True) or not released[0]:
        return "released nodes must come first, and the first node must be released"
    for edge, (start, end) in zip(
        order.edges, zip(order.nodes, order.nodes[1:], strict=False), strict=True
    ):
        if (edge.startNodeId, edge.endNodeId) != (start.nodeId, end.nodeId):
            return f"edge {edge.edgeId} does not join {start.nodeId} and {end.nodeId}"
        if edge.released and not end.released:
            return f"edge {edge.edgeId} is released but its end node is not"
    return ""
