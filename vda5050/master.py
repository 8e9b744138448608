"""The master control: VDA 5050 vehicles on one side, the hub's ingest and commands on the other.

Everything here is synchronous and driven from outside (MQTT messages, the
hub's frames, ``tick()``), with the clocks injected, so tests drive it
directly. It sends the hub what an RMF fleet adapter would: each fleet's
``fleet_state_update`` (the fleets it serves, announced even while empty),
``fleet_log_update``, and its tasks' ``task_state_update`` and
``task_log_update``; and it answers the hub's ``command`` frames for its
fleets and tasks (dispatch, robot task, cancel, kill) with
``command_response``. Commands for other fleets or tasks get no answer: the
site that serves them answers.

A vehicle is shown while its connection is ONLINE and its last state is no
older than ``state_timeout_s``; a CONNECTIONBROKEN (the broker's last will)
or OFFLINE takes it out of its fleet's state at once, so the hub derives it
stale, then offline with an alert, as for an RMF robot that went silent.
What a vanished vehicle held in traffic control stays held until it is seen
again or an operator clears it (:mod:`vda5050.recovery`).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fleetcore import metrics
from fleetcore.contract.commands import COMMAND_FRAME, CommandKind, decline
from fleetcore.contract.ingest import IngestType, encode
from fleetcore.contract.vda5050 import (
    Reason,
    Topics,
    VdaRejected,
    VehicleId,
    decode,
    v2,
)
from fleetcore.contract.vda5050.marks import MARK
from fleetcore.mqtt import Outgoing
from vda5050 import controls
from vda5050.allocation import BatteryPolicy, Candidate, Quote, bid, explain, quote, rank
from vda5050.deadlock import Unresolved, cycles, passable, side_path, stuck, waiting_on
from vda5050.detour import toll, worth_it
from vda5050.graph import NavGraph, NoRoute
from vda5050.idle import (
    IdleClock,
    IdlePolicy,
    destination,
    errand_description,
    home,
    interruptible,
)
from vda5050.journal import Journal
from vda5050.orders import (
    ReleasePolicy,
    cancel_action,
    due_end,
    first_release,
    lay_route,
    order_body,
    relay,
    release,
)
from vda5050.outbox import Outbox
from vda5050.pacing import FleetPacer
from vda5050.planning import Plans
from vda5050.recovery import Cleared, Recovery
from vda5050.requests import PhaseSpec, StepSpec, TaskRefused, read_request
from vda5050.spot import Spot, spot
from vda5050.tasks import OrderTrack, VdaTask
from vda5050.traffic import GiveWay, Traffic, node_key, robot_key, standing
from vda5050.vehicles import AUTOMATIC_MODES, Vehicle

vda_logger = logging.getLogger("fleethub.vda5050")

MASTER_CONTROL_KINDS = (
    frozenset(
        {
            CommandKind.DISPATCH_TASK,
            CommandKind.ROBOT_TASK,
            CommandKind.CANCEL_TASK,
            CommandKind.KILL_TASK,
        }
    )
    | controls.CONTROL_KINDS
)
"""The hub's commands the master control performs, for its fleets and their tasks."""

ORDER_REFUSALS = frozenset({"orderError", "orderUpdateError", "validationError", "noRouteError"})
"""errorTypes with which vehicles refuse an order (spec 6.6.4)."""
DEFAULT_SPEED_MPS = 1.0
"""For estimates, when a vehicle's factsheet does not give ``speedMax``."""
ANSWERS_RESENT_S = 600.0
"""After a restart, answers given this recently are sent to the hub again (it ignores repeats)."""


@dataclass(frozen=True, slots=True)
class MasterConfig:
    topics: Topics
    vehicles: dict[VehicleId, tuple[str, str]]
    """Configured vehicles: ``(fleet, robot)`` by vehicle."""
    default_fleet: str
    """Where unknown vehicles are registered; empty: they are refused."""
    max_vehicles: int = 1000
    state_timeout_s: float = 60.0
    resend_s: float = 3.0
    """An order update or cancel not seen in the vehicle's state this long is sent again."""
    max_message_bytes: int = 256 << 10
    release: ReleasePolicy = field(default_factory=ReleasePolicy)
    finished_tasks_kept: int = 200
    battery: BatteryPolicy = field(default_factory=BatteryPolicy)
    blocked_alert_s: float = 60.0
    """A vehicle traffic control holds back this long gets the ``traffic_blocked`` issue."""
    idle: IdlePolicy = field(default_factory=IdlePolicy)
    fleet_state_per_robot_s: float = 0.00005
    """A fleet's state goes to the hub at most every (its robots x this) seconds
    (:mod:`vda5050.pacing`)."""
    detour_slack: float = 1.5
    """A held-back robot takes a free way at most this many times the shortest (0: it waits)."""
    held_toll_m: float = 2.0
    """A new route's first leg prices a lane or node another robot holds this many metres more."""
    replan: bool = True
    """A queued task goes to a cheaper vehicle that frees up (:mod:`vda5050.planning`)."""

    @property
    def fleets(self) -> set[str]:
        configured = {fleet for fleet, _ in self.vehicles.values()}
        return configured | ({self.default_fleet} if self.default_fleet else set())


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class MasterControl:
    """Vehicles, their tasks and orders; see the module doc."""

    def __init__(
        self,
        config: MasterConfig,
        graph: NavGraph,
        journal: Journal,
        *,
        to_hub: Callable[[bytes, bool], None],
        to_vehicles: Callable[[Outgoing], bool],
        clock_ms: Callable[[], int] = wall_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.graph = graph
        self.journal = journal
        self._to_hub = to_hub
        self._clock_ms = clock_ms
        self._monotonic = monotonic
        self.outbox = Outbox(config.topics, journal, to_vehicles)
        self.vehicles: dict[VehicleId, Vehicle] = {}
        self.tasks: dict[str, VdaTask] = {}
        self._refused: set[VehicleId] = set()
        self._logged: set[tuple[VehicleId, str]] = set()
        self._dirty: set[str] = set()
        self._moved: set[VehicleId] = set()
        """Vehicles whose own report is new since the last flush (see :meth:`flush`)."""
        self._docs: dict[VehicleId, dict[str, Any]] = {}
        self._pacer = FleetPacer(config.fleet_state_per_robot_s)
        self._fleet_size: dict[str, int] = {}
        self._fleet_log: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._fleet_log_seq: dict[tuple[str, str], int] = {}
        self.traffic = Traffic()
        self.recovery = Recovery(journal, self.traffic)
        self._by_key: dict[str, Vehicle] = {}
        self._unresolved = Unresolved()
        self._plans = Plans(config.replan)
        self._idle_clock = IdleClock()
        self._yielded: dict[str, int] = {}
        """How often each robot yielded in a deadlock: the one that yielded least yields next."""
        self._interrupting: dict[str, str] = {}
        """Idle-policy errands a task takes the vehicle from, with the node it had last passed
        then: canceled once it stands on a node or reaches the next one."""
        self._restore()

    # ------------------------------------------------------------ restore

    def _restore(self) -> None:
        """Tasks from the journal: finished ones to re-send, running ones to carry on."""
        for doc in self.journal.tasks(finished_kept=self.config.finished_tasks_kept):
            task = VdaTask.model_validate_json(doc)
            self.tasks[task.id] = task
        running = [t for t in self.tasks.values() if not t.terminal and t.order is not None]
        # A canceled order's vehicle may still be on its base (it stops where it is, or at the
        # next node) until its state shows the cancel taken (:meth:`_stand`): held first, so a
        # later order of the same vehicle takes over from it.
        stopping = [t for t in self.tasks.values() if t.terminal and _stopping(t.order)]
        for task in stopping + running:
            assert task.order is not None
            self._hold_again(_robot_key(task.fleet, task.robot), task.order)
        self._conflicts("restored holdings", self.recovery.restore())
        if running:
            vda_logger.info(
                "carrying on %d orders from the journal: %s",
                len(running),
                ", ".join(
                    f"{t.id} on {t.robot} (update {t.order.update_id})" for t in running if t.order
                ),
            )

    def _hold_again(self, key: str, track: OrderTrack) -> None:
        """``key`` holds what was released of its running order, as far as it passed."""
        self._conflicts(
            key,
            self.traffic.follow(
                key,
                [node.vertex for node in track.nodes],
                passed=max(track.traversed, 0),
                reserved_end=track.released_end,
                left=track.left == track.traversed,
            ),
        )

    def hub_snapshot(self, *, first: bool) -> list[bytes]:
        """What the hub gets on every (re)connect: fleets, tasks; after a start, recent answers."""
        frames = [encode(IngestType.FLEET_STATE, state) for state in self.fleet_states()]
        frames += [encode(IngestType.TASK_STATE, t.state()) for t in self.tasks.values()]
        if first:
            since = self._clock_ms() - int(ANSWERS_RESENT_S * 1000)
            frames += self.journal.recent_answers(since)
        return frames

    # ---------------------------------------------------------- vehicles

    def on_mqtt(self, topic_name: str, payload: bytes) -> None:
        """A message from the broker; never raises for what a vehicle sent."""
        address = self.config.topics.parse(topic_name)
        if address is None:
            return
        vehicle_id, topic = address
        try:
            message = decode(topic, vehicle_id, payload, self.config.max_message_bytes)
            vehicle = self._vehicle(vehicle_id)
        except VdaRejected as exc:
            self._reject(vehicle_id, exc)
            return
        metrics.VDA_MESSAGES.labels(topic.value).inc()
        if isinstance(message, v2.State):
            self._on_state(vehicle, message)
        elif isinstance(message, v2.Connection):
            self._on_connection(vehicle, message.connectionState)
        elif isinstance(message, v2.Factsheet):
            vehicle.factsheet = message
        elif isinstance(message, v2.Visualization) and message.agvPosition is not None:
            vehicle.see(message.agvPosition)
            self._reported(vehicle)

    def _reject(self, vehicle_id: VehicleId, exc: VdaRejected) -> None:
        metrics.VDA_REJECTED.labels(exc.reason.value).inc()
        key = (vehicle_id, exc.reason.value)
        if key in self._logged or len(self._logged) >= self.config.max_vehicles * 10:
            return
        self._logged.add(key)
        vda_logger.warning("refused a message from vehicle %s: %s", vehicle_id, exc)

    def _vehicle(self, vehicle_id: VehicleId) -> Vehicle:
        vehicle = self.vehicles.get(vehicle_id)
        if vehicle is not None:
            return vehicle
        named = self.config.vehicles.get(vehicle_id)
        if named is None:
            named = self._register(vehicle_id)
        fleet, robot = named
        vehicle = Vehicle(vehicle_id, fleet, robot)
        controls.restore_commission(self.journal, vehicle)
        running = [t for t in self.tasks.values() if not t.terminal and (t.fleet, t.robot) == named]
        if running:
            vehicle.task_id = running[0].id
        self.vehicles[vehicle_id] = vehicle
        self._by_key[_robot_key(fleet, robot)] = vehicle
        self._fleet_size[fleet] = self._fleet_size.get(fleet, 0) + 1
        return vehicle

    def _register(self, vehicle_id: VehicleId) -> tuple[str, str]:
        fleet = self.config.default_fleet
        refuse = ""
        if not fleet:
            refuse = "no configuration names it and no default fleet takes unknown vehicles"
        elif len(self.vehicles) >= self.config.max_vehicles:
            refuse = f"already {len(self.vehicles)} vehicles (FLEETHUB_VDA5050_MAX_VEHICLES)"
        if refuse:
            if vehicle_id not in self._refused and len(self._refused) < self.config.max_vehicles:
                self._refused.add(vehicle_id)
                metrics.VDA_UNKNOWN_VEHICLES.labels("refused").inc()
            raise VdaRejected(Reason.UNKNOWN_VEHICLE, f"vehicle {vehicle_id} refused: {refuse}")
        taken = {(v.fleet, v.robot) for v in self.vehicles.values()} | set(
            self.config.vehicles.values()
        )
        robot = vehicle_id.serial_number
        if (fleet, robot) in taken:
            robot = f"{vehicle_id.manufacturer}-{vehicle_id.serial_number}"
        metrics.VDA_UNKNOWN_VEHICLES.labels("registered").inc()
        vda_logger.info("registered unknown vehicle %s as %s/%s", vehicle_id, fleet, robot)
        self._fleet_note(fleet, robot, f"Registered vehicle {vehicle_id} as [robot:{robot}]")
        return fleet, robot

    def _on_connection(self, vehicle: Vehicle, state: str) -> None:
        was = vehicle.connection
        vehicle.connected(state)
        if state != "ONLINE":
            # Also when it was never ONLINE here: the retained last word after a restart.
            self._vanish(vehicle, f"connection {state}")
        if state == was:
            return
        metrics.VDA_ONLINE.set(sum(1 for v in self.vehicles.values() if v.online))
        tier = (
            "info" if state == "ONLINE" else "error" if state == "CONNECTIONBROKEN" else "warning"
        )
        self._fleet_note(vehicle.fleet, vehicle.robot, f"Connection {state} (was {was})", tier)
        if state != "ONLINE":
            vda_logger.warning(
                "vehicle %s (%s/%s) is %s", vehicle.id, vehicle.fleet, vehicle.robot, state
            )
        self._dirty.add(vehicle.fleet)

    def _on_state(self, vehicle: Vehicle, state: v2.State) -> None:
        if not vehicle.take(state, self._monotonic()):
            metrics.VDA_OUTDATED.inc()
            return
        if not vehicle.online and vehicle.connection != "CONNECTIONBROKEN":
            # A state is evidence of a connection, even if its ONLINE was missed.
            vehicle.connection = "ONLINE"
        if vehicle.online:
            self._seen(vehicle)
        self._note_errors(vehicle, state)
        self._reported(vehicle)
        now = self._clock_ms()
        task = self.tasks.get(vehicle.task_id)
        if task is not None:
            self._follow(vehicle, task, state, now)
            if task.id in self._interrupting:
                self._leave_errand(vehicle, task, now)
        if not vehicle.task_id and not state.nodeStates and not state.driving:
            self._stand(vehicle)
        if vehicle.idle:
            # Only a vehicle free for a task can change an assignment; the tick covers the rest.
            self._assign(now)

    def _note_errors(self, vehicle: Vehicle, state: v2.State) -> None:
        errors = {(e.errorType, e.errorLevel): e for e in state.errors}
        for key in errors.keys() - vehicle.errors:
            error = errors[key]
            tier = "error" if error.errorLevel == "FATAL" else "warning"
            text = f"{error.errorLevel} {error.errorType}" + (
                f": {error.errorDescription}" if error.errorDescription else ""
            )
            self._fleet_note(vehicle.fleet, vehicle.robot, text, tier)
        for error_type, level in vehicle.errors - errors.keys():
            self._fleet_note(vehicle.fleet, vehicle.robot, f"Cleared {level} {error_type}")
        vehicle.errors = set(errors)
        infos = {
            (i.infoType, i.infoDescription or ""): i
            for i in state.information or []
            if i.infoLevel == "INFO"
        }
        for info_type, description in infos.keys() - vehicle.infos:
            self._fleet_note(
                vehicle.fleet,
                vehicle.robot,
                info_type + (f": {description}" if description else ""),
            )
        vehicle.infos = set(infos)

    # ------------------------------------------------------------- tasks

    def _follow(self, vehicle: Vehicle, task: VdaTask, state: v2.State, now: int) -> None:
        """Move ``task`` along with what ``vehicle`` reports."""
        track = task.order
        if task.terminal or track is None:
            vehicle.task_id = ""
            return
        before, passed, left = task.status, track.traversed, track.left
        refusal = _refusal(state, track.order_id)
        if refusal is not None:
            self._fail(vehicle, task, f"[robot:{vehicle.robot}] refused the order: {refusal}", now)
            return
        if state.orderId == track.order_id:
            if state.orderUpdateId >= track.update_id and not track.acked:
                track.acked = True
            track.traversed = max(track.traversed, state.lastNodeSequenceId // 2)
            actions = {
                a.actionId: (a.actionStatus, a.resultDescription or "") for a in state.actionStates
            }
            task.progress(now, track.traversed, actions)
        if not task.terminal:
            self._blocked(vehicle, task, state, now)
            key = _robot_key(vehicle.fleet, vehicle.robot)
            self.traffic.passed(key, track.traversed)
            if self._clear_of(state, track) and self.traffic.left(key):
                track.left = track.traversed
        # A vehicle stopped by a fatal error is released nothing more: its task waits for the
        # error to clear or for the reassignment policy to move it.
        due = (
            not task.terminal
            and not vehicle.fatal
            and task.id not in self._interrupting
            and self._release(vehicle, track, now, asked=bool(state.newBaseRequest))
        )
        if task.terminal:
            vehicle.task_id = ""
            self._interrupting.pop(task.id, None)
        if due or task.status != before or task.log.pending:
            self._save(task)  # before the update goes out: the journal is write-ahead
        elif track.traversed != passed or track.left != left:
            # What a restart holds again for it: what it still stands on and ahead, not behind.
            self._journal_task(task)
        if due:
            self._send_order(vehicle, task, "order_update")

    def _clear_of(self, state: v2.State, track: OrderTrack) -> bool:
        """``state`` shows the vehicle driving on, clear of the node it last passed.

        Farther from it than ``deviation_m`` (within which a vehicle may report a node it has not
        reached yet) and ``clearance_m`` (its body is off the node).
        """
        position = state.agvPosition
        vertex = self.graph.vertex(state.lastNodeId)
        at = max(track.traversed, 0)
        if state.orderId != track.order_id or not state.driving or position is None:
            return False
        if vertex is None or at >= track.released_end:
            return False
        if vertex.id != track.nodes[at].vertex or vertex.map != position.mapId:
            return False
        policy = self.config.release
        gap = math.hypot(vertex.x - position.x, vertex.y - position.y)
        return gap > policy.deviation_m + policy.clearance_m

    def _release(self, vehicle: Vehicle, track: OrderTrack, now: int, *, asked: bool) -> bool:
        """Release more of ``track`` if an update is due and traffic control grants any."""
        wanted = due_end(track, self.config.release, asked=asked)
        if wanted is None:
            return False
        end = self._claim(_robot_key(vehicle.fleet, vehicle.robot), wanted, now)
        if end <= track.released_end:
            return False
        release(track, end)
        return True

    def _claim(self, key: str, upto: int, now: int) -> int:
        """Extend ``key``'s base towards node ``upto``; parked vehicles on its way move aside first.

        A parked vehicle is asked before the mover holds the nodes around it:
        on a dead-end spur it could not get out past them.
        """
        path = self.traffic.paths[key]
        for vertex in path.nodes[path.reserved_end + 1 :]:
            holder = self.traffic.owner.get(node_key(vertex))
            if holder is not None and holder != key and holder not in self.traffic.paths:
                parked = self._by_key.get(holder)
                if parked is not None:
                    self._move_aside(parked, key, now)
        waiting = key in self.traffic.waits
        end = self.traffic.claim(key, upto, now)
        if key in self.traffic.waits and not waiting:
            metrics.VDA_TRAFFIC_WAITS.inc()
        return end

    def _stand(self, vehicle: Vehicle) -> None:
        """A vehicle without an order holds what it stands on (a node, or a lane and its ends),
        and nothing else; journaled, with the cancel it stopped for taken."""
        origin = self._origin(vehicle)
        if origin is None:
            return
        key = _robot_key(vehicle.fleet, vehicle.robot)
        where = (origin.vertex.id, origin.ahead)
        if key in self.traffic.paths or self.traffic.held(key) != standing(
            *where, clear=origin.clear
        ):
            self._conflicts(key, self.traffic.stand(key, *where, clear=origin.clear))
            self.recovery.stood(key)
            # After the holding: a restart holds a canceled order's base until its cancel is taken.
            for task in self.tasks.values():
                track = task.order
                if (task.fleet, task.robot) != (vehicle.fleet, vehicle.robot):
                    continue
                if task.terminal and track is not None and _stopping(track):
                    track.cancel_acked = True
                    self._journal_task(task)

    def _conflicts(self, robot: str, resources: list[str]) -> None:
        """Resources ``robot`` is on that another robot holds: never expected, so counted and logged."""
        if not resources:
            return
        metrics.VDA_TRAFFIC_CONFLICTS.inc(len(resources))
        vda_logger.error(
            "traffic conflict: %s is on %s, held by %s",
            robot,
            ", ".join(resources),
            ", ".join(sorted({self.traffic.owner.get(r, "?") for r in resources})),
        )

    def _blocked(self, vehicle: Vehicle, task: VdaTask, state: v2.State, now: int) -> None:
        """``blocked`` while a fatal error or a warning holds the vehicle still, or a person took
        it over. A fatal error does not fail the task: the robot's ``error`` status hands it to
        the hub's reassignment policy, which cancels it here and dispatches it again."""
        warnings = [e for e in state.errors if e.errorLevel == "WARNING"]
        busy = state.driving or any(a.actionStatus == "RUNNING" for a in state.actionStates)
        manual = state.operatingMode not in AUTOMATIC_MODES
        fatal = vehicle.fatal
        blocked = manual or bool(fatal) or (bool(warnings) and not busy)
        if blocked and task.status == "underway":
            task.status = "blocked"
            if fatal:
                error = fatal[0]
                reason = f"fatal error {error.errorType}" + (
                    f": {error.errorDescription}" if error.errorDescription else ""
                )
            else:
                reason = state.operatingMode if manual else warnings[0].errorType
            task.log.add(now, f"[robot:{vehicle.robot}] is blocked: {reason}", tier="warning")
        elif not blocked and task.status == "blocked":
            task.status = "underway"
            task.log.add(now, f"[robot:{vehicle.robot}] goes on")

    def _fail(self, vehicle: Vehicle, task: VdaTask, text: str, now: int) -> None:
        task.end(now, "failed", text, "error")
        vehicle.task_id = ""
        self._save(task)

    def _assign(self, now: int) -> None:
        """Give queued tasks to the cheapest vehicle (:mod:`vda5050.allocation`).

        When the cheapest is still busy the task waits for it (it is cheaper
        than an idle vehicle far away), and no later task counts on it.
        """
        promised: set[str] = set()
        queued = [t for t in self.tasks.values() if t.status == "queued" and t.order is None]
        self._plans.keep({t.id for t in queued})
        if not queued:
            return
        # Where each vehicle will be does not depend on the task: worked out once a round.
        candidates = {v.id: self._candidate(v) for v in self.vehicles.values()}
        for task in queued:
            places = [step.spec.place for step in task.steps if step.spec.kind == "go"]
            quotes = []
            for vehicle in self.vehicles.values():
                if vehicle.fleet != task.fleet or vehicle.robot in promised:
                    continue
                if task.requested_robot and vehicle.robot != task.robot:
                    continue
                if not controls.takes(vehicle, task):
                    continue
                candidate = candidates[vehicle.id]
                if candidate is not None:
                    quotes.append(quote(self.graph, candidate, places, self.config.battery))
            ranked = self._plans.order(task.id, rank(quotes))
            for index, best in enumerate(ranked):
                if math.isinf(best.cost_s):
                    break
                vehicle = self._by_key[_robot_key(task.fleet, best.robot)]
                if not vehicle.idle:
                    promised.add(best.robot)
                    errand = self._errand_of(vehicle)
                    if errand is not None:
                        self._interrupt(vehicle, errand, task, now)
                    waits = self._plans.wait(task.id, best)
                    if waits is not None:
                        task.log.add(now, waits)
                        self._save(task)
                    break
                replanned = self._plans.start(task.id, best)
                why = explain(ranked[index:]) + (f". {replanned}" if replanned else "")
                if self._start(vehicle, task, now, why):
                    candidates[vehicle.id] = self._candidate(vehicle)
                    break

    def _candidate(self, vehicle: Vehicle) -> Candidate | None:
        """``vehicle`` as a candidate for a task: from where it stands, or where its task ends."""
        state = vehicle.state
        if state is None or not vehicle.fresh(self._monotonic(), self.config.state_timeout_s):
            return None
        speed = self._speed(vehicle)
        battery = v2.battery_fraction(state)
        task = self.tasks.get(vehicle.task_id)
        errand = self._errand_of(vehicle)
        if task is not None and task.order is not None and not task.terminal and errand is None:
            queue_s = sum(phase.remaining_ms for phase in task.phases) / 1000
            return Candidate(vehicle.robot, task.order.nodes[-1].vertex, queue_s, battery, speed)
        origin = self._origin(vehicle)
        if not (vehicle.idle or errand is not None) or origin is None:
            return None
        return Candidate(vehicle.robot, origin.start, 0.0, battery, speed)

    def _errand_of(self, vehicle: Vehicle) -> VdaTask | None:
        """``vehicle``'s idle-policy errand, which a task may interrupt (:mod:`vda5050.idle`)."""
        task = self.tasks.get(vehicle.task_id)
        if task is None or task.terminal or not vehicle.ready or not interruptible(task.detail):
            return None
        return task

    def _interrupt(self, vehicle: Vehicle, errand: VdaTask, task: VdaTask, now: int) -> None:
        """``task`` takes ``vehicle`` from its idle-policy ``errand``: nothing more of it is
        released, and it is canceled once the vehicle stands on a node."""
        if errand.id in self._interrupting or vehicle.state is None:
            return
        self._interrupting[errand.id] = vehicle.state.lastNodeId
        errand.log.add(now, f"Interrupted: [robot:{vehicle.robot}] takes task {task.id}")
        self._save(errand)
        self._leave_errand(vehicle, errand, now)

    def _leave_errand(self, vehicle: Vehicle, errand: VdaTask, now: int) -> None:
        """Cancel the interrupted ``errand`` once ``vehicle`` stands on a node or has just
        reached the next (it drives on to it meanwhile, which it holds): a ``cancelOrder``
        there stops it on that node, not on a lane (VDA 5050 lets a vehicle stop at once).
        What the errand held stays held until the vehicle reports it has no order left."""
        state, origin = vehicle.state, self._origin(vehicle)
        if state is None or origin is None or origin.vertex.id != state.lastNodeId:
            return
        at_node = origin.gap_m <= self.config.release.deviation_m
        if not at_node or (state.driving and state.lastNodeId == self._interrupting[errand.id]):
            return
        del self._interrupting[errand.id]
        errand.end(now, "canceled", "Interrupted for a task", "info")
        vehicle.task_id = ""
        self._send_cancel(vehicle, errand)
        self._dirty.add(vehicle.fleet)

    def _speed(self, vehicle: Vehicle) -> float:
        if vehicle.factsheet is not None and vehicle.factsheet.physicalParameters.speedMax > 0:
            return vehicle.factsheet.physicalParameters.speedMax
        return DEFAULT_SPEED_MPS

    def _origin(self, vehicle: Vehicle) -> Spot | None:
        """Where ``vehicle`` stands (:mod:`vda5050.spot`): where an order for it starts."""
        state = vehicle.state
        return None if state is None else spot(self.graph, state, self.config.release)

    def _start(self, vehicle: Vehicle, task: VdaTask, now: int, why: str = "") -> bool:
        origin = self._origin(vehicle)
        if origin is None:
            return False
        key = _robot_key(vehicle.fleet, vehicle.robot)
        price = (
            toll(self.traffic, key, self.config.held_toll_m) if self.config.held_toll_m else None
        )
        try:
            track, lengths = lay_route(
                self.graph,
                task,
                origin.vertex,
                origin.gap_m,
                self.config.release,
                price,
                origin.ahead,
            )
        except NoRoute as exc:
            if task.requested_robot:
                task.end(
                    now, "failed", f"[robot:{vehicle.robot}] cannot reach the task: {exc}", "error"
                )
                self._save(task)
            return False
        # On a lane, its first node is the one behind: the lane and the node ahead are its base.
        nodes = [node.vertex for node in track.nodes]
        onto = int(bool(origin.ahead))
        self._conflicts(key, self.traffic.follow(key, nodes, reserved_end=onto, left=origin.clear))
        first_release(
            track, self._claim(key, self.config.release.release_nodes, now), left=origin.clear
        )
        task.assign(vehicle.robot, track, self._speed(vehicle), lengths)
        task.begin(now)
        if why:
            task.log.add(now, why)
        vehicle.task_id = task.id
        self._save(task)
        self._send_order(vehicle, task, "order")
        self._dirty.add(vehicle.fleet)
        return True

    def _send_order(self, vehicle: Vehicle, task: VdaTask, kind: str) -> None:
        track = task.order
        assert track is not None
        track.sent_ms = self._clock_ms()
        self.outbox.order(vehicle.id, order_body(self.graph, task, track, self.config.release))
        metrics.VDA_SENT.labels(kind).inc()

    def _send_cancel(self, vehicle: Vehicle, task: VdaTask, kind: str = "cancel") -> None:
        track = task.order
        if track is None:
            return
        action = cancel_action(task)
        track.cancel_action = action.actionId
        track.sent_ms = self._clock_ms()
        self._save(task)
        self.outbox.instant_actions(vehicle.id, [action])
        metrics.VDA_SENT.labels(kind).inc()

    def _save(self, task: VdaTask) -> None:
        """Journal ``task`` and tell the hub its state and new log entries."""
        self._journal_task(task)
        self._to_hub(encode(IngestType.TASK_STATE, task.state()), False)
        log = task.log.flush()
        if log is not None:
            self._to_hub(encode(IngestType.TASK_LOG, log), True)

    def _journal_task(self, task: VdaTask) -> None:
        active = not task.terminal or bool(
            task.order and task.order.cancel_action and not task.order.cancel_acked
        )
        self.journal.save_task(task.id, task.model_dump_json().encode(), active=active)

    # -------------------------------------------------------------- commands

    def on_hub(self, doc: dict[str, Any]) -> None:
        """A frame from the hub: commands for this site's fleets and tasks are answered."""
        if doc.get("type") != COMMAND_FRAME or not isinstance(doc.get("data"), dict):
            return
        data = doc["data"]
        request_id = str(data.get("request_id", ""))
        body = data.get("body")
        if not request_id or not isinstance(body, dict):
            return
        answered = self.journal.answer(request_id)
        if answered is not None:
            self._to_hub(answered, True)
            return
        kind = str(data.get("kind"))
        try:
            response = self._act(kind, body)
        except TaskRefused as exc:
            response = {
                "success": False,
                "errors": [{"code": 1, "category": kind, "detail": str(exc)}],
            }
        if response is None:
            return
        frame = encode(IngestType.COMMAND_RESPONSE, {"request_id": request_id, **response})
        self.journal.save_answer(request_id, frame)
        self._to_hub(frame, True)

    def _act(self, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """RMF's response to a command, or None when it is not for this site."""
        if kind in (CommandKind.DISPATCH_TASK, CommandKind.ROBOT_TASK):
            request = body.get("request")
            if not isinstance(request, dict):
                return None
            robot = str(body.get("robot", "")) if kind == CommandKind.ROBOT_TASK else ""
            fleet = body.get("fleet") if robot else request.get("fleet_name")
            if kind == CommandKind.DISPATCH_TASK and not fleet:
                return self._bid(request)
            if fleet not in self.served_fleets():
                return None
            return {"success": True, "state": self.dispatch(request, str(fleet), robot)}
        if kind in (CommandKind.CANCEL_TASK, CommandKind.KILL_TASK):
            task = self.tasks.get(str(body.get("task_id")))
            if task is None:
                return None
            labels = [str(label) for label in body.get("labels") or []]
            self.cancel(task, "killed" if kind == CommandKind.KILL_TASK else "canceled", labels)
            return {"success": True}
        if kind in controls.CONTROL_KINDS:
            return controls.act(self, kind, body)
        return None

    def vehicle_of(self, fleet: str, robot: str) -> Vehicle | None:
        return self._by_key.get(_robot_key(fleet, robot))

    def _bid(self, request: dict[str, Any]) -> dict[str, Any]:
        """A dispatch naming no fleet: the fleet with the cheapest vehicle takes it, or none does."""
        try:
            phases = read_request(self.graph, request)
        except TaskRefused as exc:
            return decline(f"no VDA 5050 fleet does this task: {exc}")
        places = [s.place for phase in phases for s in phase.steps if s.kind == "go"]
        quotes: dict[str, list[Quote]] = {}
        for vehicle in self.vehicles.values():
            if not vehicle.commission["dispatch_tasks"]:
                continue  # out of service (rmf-web's decommission)
            candidate = self._candidate(vehicle)
            if candidate is not None:
                offer = quote(self.graph, candidate, places, self.config.battery)
                quotes.setdefault(vehicle.fleet, []).append(offer)
        chosen = bid(quotes)
        if chosen is None:
            return decline("no VDA 5050 vehicle can reach the task's places now")
        fleet, why = chosen
        return {"success": True, "state": self.dispatch(request, fleet, note=why)}

    def served_fleets(self) -> set[str]:
        return self.config.fleets | {v.fleet for v in self.vehicles.values()}

    def dispatch(
        self, request: dict[str, Any], fleet: str, robot: str = "", note: str = ""
    ) -> dict[str, Any]:
        """Take a task for ``fleet`` (or its ``robot``); returns its first task_state.

        ``note``: why this fleet, for the task's log (a dispatch that named none).
        """
        if robot and not any(v.robot == robot and v.fleet == fleet for v in self.vehicles.values()):
            if (fleet, robot) not in set(self.config.vehicles.values()):
                raise TaskRefused(f"no robot {robot!r} in fleet {fleet!r}")
        phases = read_request(self.graph, request)
        now = self._clock_ms()
        task_id = f"{request.get('category')}.vda-{uuid.uuid4().hex[:12]}"
        task = VdaTask.create(task_id, request, phases, fleet, now, robot)
        if note:
            task.log.add(now, note)
        self.tasks[task_id] = task
        self._save(task)
        self._assign(now)
        return self.tasks[task_id].state()

    def cancel(self, task: VdaTask, status: str, labels: list[str]) -> None:
        if task.terminal:
            raise TaskRefused(f"task {task.id!r} is already {task.status}")
        now = self._clock_ms()
        task.stop_request = ("killed" if status == "killed" else "cancellation", now, labels)
        verb = "killed" if status == "killed" else "canceled"
        vehicle = next((v for v in self.vehicles.values() if v.task_id == task.id), None)
        task.end(
            now,
            "killed" if status == "killed" else "canceled",
            f"Task {verb} by request",
            "warning",
        )
        if vehicle is not None:
            vehicle.task_id = ""
            self._send_cancel(vehicle, task)
            self._dirty.add(vehicle.fleet)
        else:
            if task.order is not None:
                # Its vehicle has not spoken since a restart: the cancel goes once it does.
                task.order.cancel_action = cancel_action(task).actionId
            self._save(task)

    # ------------------------------------------------------------------ tick

    def tick(self) -> None:
        """Time-based duties: re-send what the vehicles did not take, assign, publish fleets."""
        now = self._clock_ms()
        for task in list(self.tasks.values()):
            track = task.order
            if track is None or now - track.sent_ms < self.config.resend_s * 1000:
                continue
            vehicle = next(
                (
                    v
                    for v in self.vehicles.values()
                    if (v.fleet, v.robot) == (task.fleet, task.robot)
                ),
                None,
            )
            if vehicle is None or not vehicle.online or vehicle.state is None:
                # Without a state since this start, the vehicle has not said what it holds.
                continue
            if not task.terminal and not track.acked:
                track.resends += 1
                self._save(task)
                self._send_order(vehicle, task, "order_resend")
            elif track.cancel_action and not track.cancel_acked:
                if _cancel_taken(vehicle.state, track.order_id, track.cancel_action):
                    track.cancel_acked = True
                    self._save(task)
                else:
                    self._send_cancel(vehicle, task, "cancel_resend")
        mono = self._monotonic()
        for vehicle in self.vehicles.values():
            if vehicle.state is not None and not vehicle.fresh(mono, self.config.state_timeout_s):
                self._vanish(vehicle, "state silent")
        self._traffic(now)
        self._charge(now)
        self._assign(now)
        self._return_idle(now)
        self._dirty |= {v.fleet for v in self.vehicles.values()} | self.config.fleets

    # ----------------------------------------------------------- recovery

    def _vanish(self, vehicle: Vehicle, reason: str) -> None:
        """``vehicle`` is gone: what it holds stays held (:mod:`vda5050.recovery`)."""
        record = self.recovery.vanish(
            _robot_key(vehicle.fleet, vehicle.robot), reason, self._clock_ms()
        )
        if record is not None and record.held:
            self._fleet_note(
                vehicle.fleet,
                vehicle.robot,
                f"Vanished ({reason}): its {len(record.held)} reservations stay held until it is"
                " seen again or an operator clears them",
                "warning",
            )

    def _seen(self, vehicle: Vehicle) -> None:
        """A vanished ``vehicle`` reports again: traffic control follows what it says from here."""
        key = _robot_key(vehicle.fleet, vehicle.robot)
        task = self.tasks.get(vehicle.task_id)
        track = task.order if task is not None and not task.terminal else None
        if track is not None and key not in self.traffic.paths:
            # An operator cleared its reservations while it was gone: it holds its order again.
            self._hold_again(key, track)
        if self.recovery.seen(key) is None:
            return
        self._fleet_note(vehicle.fleet, vehicle.robot, "Seen again: its reservations follow it")
        for gone in self.tasks.values():
            order = gone.order
            if (gone.fleet, gone.robot) != (vehicle.fleet, vehicle.robot) or not gone.terminal:
                continue
            if order is None or not order.cancel_action or order.cancel_acked:
                continue
            if _cancel_taken(vehicle.state, order.order_id, order.cancel_action):
                order.cancel_acked = True
                self._save(gone)
            else:
                # Canceled while it was gone (reassigned): it may not know yet, tell it now.
                self._send_cancel(vehicle, gone, "cancel_resend")

    def clear_reservations(self, fleet: str, robot: str) -> Cleared:
        """An operator's "clear a vanished robot's reservations": release what it holds.

        For a hub command (operator controls). Refused (``Cleared.refused``)
        for a robot that reports: it holds what it says it stands on. The
        operator has made sure the vanished robot no longer stands there;
        should it come back, it holds again what it then reports. Noted in
        the robot's fleet log.
        """
        result = self.recovery.clear(_robot_key(fleet, robot))
        if result.ok:
            self._fleet_note(
                fleet,
                robot,
                f"An operator cleared its {len(result.released)} reservations",
                "warning",
            )
            self._dirty.add(fleet)
        return result

    # ------------------------------------------------------------ traffic

    def _traffic(self, now: int) -> None:
        """Break deadlocks, move parked vehicles out of the way, flag vehicles held back long."""
        by_key = self._by_key
        found = cycles(self.traffic.waits)
        self._unresolved.standing(
            [frozenset(cycle) for cycle in found]
            + [frozenset((robot, wait.holder)) for robot, wait in self.traffic.waits.items()]
        )
        for cycle in found:
            self._break(cycle, by_key, now)
        self._bypass(now)
        for robot, stopped in list(self.traffic.waits.items()):
            if stopped.holder not in self.traffic.paths and stopped.holder in by_key:
                self._move_aside(by_key[stopped.holder], robot, now, make_way=True)
        for key, vehicle in by_key.items():
            wait = self.traffic.waits.get(key)
            path = self.traffic.paths.get(key)
            issues = vehicle.traffic_issues
            if wait is not None and now - wait.since_ms >= self.config.blocked_alert_s * 1000:
                if "traffic_blocked" not in issues:
                    holder = wait.holder.partition("/")[2]
                    issues["traffic_blocked"] = f"waiting for {holder} on {wait.resource}"
                    self._fleet_note(
                        vehicle.fleet,
                        vehicle.robot,
                        f"Held back by traffic control for {(now - wait.since_ms) / 1000:.0f} s:"
                        f" [robot:{holder}] holds {wait.resource}",
                        "warning",
                    )
            elif "traffic_blocked" in issues:
                del issues["traffic_blocked"]
            if (
                "traffic_deadlock" in issues
                and wait is None
                and (path is None or not path.give_way)
            ):
                del issues["traffic_deadlock"]

    def _bypass(self, now: int) -> None:
        """Held-back robots take another way when it is about as short (:mod:`vda5050.detour`)."""
        if self.config.detour_slack <= 0:
            return
        for robot, wait in list(self.traffic.waits.items()):
            vehicle = self._by_key.get(robot)
            task = self.tasks.get(vehicle.task_id) if vehicle is not None else None
            track = task.order if task is not None else None
            if vehicle is None or task is None or track is None or wait.giving_way:
                continue
            if self.traffic.paths[robot].give_way is not None:
                continue
            decision = track.nodes[track.released_end].vertex
            goal = next(
                (
                    s.spec.place
                    for s in task.steps
                    if s.node_index > track.released_end and s.spec.kind == "go"
                ),
                None,
            )
            if goal is None or not worth_it(
                self.graph, self.traffic, robot, decision, goal, self.config.detour_slack
            ):
                continue
            relay(self.graph, task, track, [], passable(self.traffic, robot))
            self.traffic.replan(robot, [node.vertex for node in track.nodes])
            self._save(task)
            if self._release(vehicle, track, now, asked=True):
                self._send_order(vehicle, task, "order_update")

    def _break(self, cycle: list[str], by_key: dict[str, Vehicle], now: int) -> None:
        """Re-route one robot of ``cycle`` around the others, or else let one yield.

        The one to yield is the one that yielded least so far (then in cycle order):
        robots that keep meeting on one stretch take turns, none always waits for the others.
        """
        names = ", ".join(f"[robot:{robot.partition('/')[2]}]" for robot in cycle)
        for allow_yield in (False, True):
            order = sorted(cycle, key=lambda r: self._yielded.get(r, 0)) if allow_yield else cycle
            for robot in order:
                vehicle = by_key.get(robot)
                task = self.tasks.get(vehicle.task_id) if vehicle is not None else None
                if vehicle is None or task is None or task.order is None:
                    continue
                how = self._detour(robot, task, task.order, allow_yield)
                if how is None:
                    continue
                metrics.VDA_DEADLOCKS.labels("yield" if allow_yield else "reroute").inc()
                if allow_yield:
                    self._yielded[robot] = self._yielded.get(robot, 0) + 1
                text = f"Deadlock between {names}: [robot:{vehicle.robot}] {how}"
                vda_logger.warning("%s", text)
                task.log.add(now, text, tier="warning")
                vehicle.traffic_issues["traffic_deadlock"] = text
                for other in cycle:
                    if other in by_key:
                        self._fleet_note(by_key[other].fleet, by_key[other].robot, text, "warning")
                due = self._release(vehicle, task.order, now, asked=True)
                self._save(task)  # with the update's id: the journal is write-ahead
                if due:
                    self._send_order(vehicle, task, "order_update")
                return
        paths = self.traffic.paths
        ways = {  # from each one's decision point, off the others' ways
            robot: (
                paths[robot].nodes[paths[robot].reserved_end],
                self._ahead_of(set(cycle) - {robot}),
            )
            for robot in cycle
            if robot in paths
        }
        if self._stuck(ways) and self._unresolved.first(frozenset(cycle)):
            metrics.VDA_DEADLOCKS.labels("unresolved").inc()

    def _ahead_of(self, robots: set[str]) -> set[str]:
        """The nodes ``robots`` still have ahead."""
        paths = self.traffic.paths
        return {node for robot in robots if robot in paths for node in paths[robot].ahead()}

    def _stuck(self, ways: dict[str, tuple[str, set[str]]]) -> bool:
        """No way out of a deadlock even past the robots that drive on (have an order, wait for
        nothing, report and are free to move): only then is it counted unresolved."""
        driving = {
            robot
            for robot in self.traffic.paths
            if robot not in self.traffic.waits
            and robot not in self.recovery.vanished
            and robot in self._by_key
            and self._by_key[robot].ready
        }
        return stuck(self.graph, self.traffic, ways, driving)

    def _detour(
        self, robot: str, task: VdaTask, track: OrderTrack, allow_yield: bool
    ) -> str | None:
        """Lay ``track`` again after its base so ``robot`` gets out of a deadlock; how, or None."""
        if not allow_yield:
            try:
                relay(self.graph, task, track, [], passable(self.traffic, robot))
            except NoRoute:
                return None
            self.traffic.replan(robot, [node.vertex for node in track.nodes])
            return "takes another way"
        waiting = waiting_on(self.traffic.waits, robot)
        keep_clear = (
            {node for other in waiting for node in self.traffic.paths[other].ahead()}
            if all(other in self.traffic.paths for other in waiting)
            else set()
        )
        if not waiting:
            return None
        return self._yield(robot, task, track, GiveWay(0, waiting[0]), keep_clear)

    def _yield(
        self, robot: str, task: VdaTask, track: OrderTrack, give_way: GiveWay, keep_clear: set[str]
    ) -> str | None:
        """Lay ``track`` through the nearest side node off ``keep_clear``, giving way there."""
        decision = track.nodes[track.released_end].vertex
        side = side_path(self.graph, self.traffic, robot, decision, keep_clear)
        if side is None:
            return None
        relay(self.graph, task, track, side, None)
        give_way = replace(give_way, index=track.released_end + len(side))
        self.traffic.replan(robot, [node.vertex for node in track.nodes], give_way)
        return f"yields at [place:{side[-1]}]"

    def _move_aside(
        self, vehicle: Vehicle, waiter: str, now: int, *, make_way: bool = False
    ) -> None:
        """Send a parked ``vehicle`` to the nearest node off ``waiter``'s path.

        ``make_way``: if ``waiter`` holds its way out, ``waiter`` yields first (see
        :meth:`_make_way_out`); not while ``waiter`` claims, which a yield would re-lay.
        """
        if not vehicle.idle or not vehicle.fresh(self._monotonic(), self.config.state_timeout_s):
            return
        key = _robot_key(vehicle.fleet, vehicle.robot)
        path = self.traffic.paths.get(waiter)
        origin = self._origin(vehicle)
        if path is None or origin is None:
            return
        side = side_path(self.graph, self.traffic, key, origin.start, set(path.ahead()))
        if side is None:
            if not (make_way and self._make_way_out(vehicle, key, origin.start, waiter, now)):
                ways = {key: (origin.start, set(path.ahead()))}
                if self._stuck(ways) and self._unresolved.first(frozenset((waiter, key))):
                    metrics.VDA_DEADLOCKS.labels("unresolved").inc()
            return
        place = side[-1]
        if self._errand(vehicle, "yield", place, now):
            metrics.VDA_DEADLOCKS.labels("move_aside").inc()
            self._fleet_note(
                vehicle.fleet,
                vehicle.robot,
                f"Moves aside to [place:{place}] for [robot:{waiter.partition('/')[2]}]",
            )

    def _make_way_out(self, parked: Vehicle, key: str, origin: str, waiter: str, now: int) -> bool:
        """``waiter`` holds the way out of ``parked`` (a dead end): it yields off that way first.

        It gives way there until ``parked`` has left where it stands; then
        ``parked`` moves aside as usual (:meth:`_move_aside`) and ``waiter`` goes on.
        Whether it yields.
        """
        path = self.traffic.paths[waiter]
        vehicle = self._by_key.get(waiter)
        task = self.tasks.get(vehicle.task_id) if vehicle is not None else None
        track = task.order if task is not None else None
        if vehicle is None or task is None or track is None or path.give_way is not None:
            return False
        way = side_path(
            self.graph, self.traffic, key, origin, set(path.ahead()), ignoring=(waiter,)
        )
        if way is None:
            return False
        way_out = (origin, *way)
        how = self._yield(waiter, task, track, GiveWay(0, key, way_out), set(way_out))
        if how is None:
            return False
        metrics.VDA_DEADLOCKS.labels("yield").inc()
        text = (
            f"[robot:{vehicle.robot}] {how}: it holds the way out of [robot:{parked.robot}],"
            f" which stands in its way"
        )
        task.log.add(now, text, tier="warning")
        self._fleet_note(vehicle.fleet, vehicle.robot, text, "warning")
        due = self._release(vehicle, track, now, asked=True)
        self._save(task)  # with the update's id: the journal is write-ahead
        if due:
            self._send_order(vehicle, task, "order_update")
        return True

    def _errand(
        self,
        vehicle: Vehicle,
        category: str,
        place: str,
        now: int,
        description: dict[str, Any] | None = None,
    ) -> bool:
        """Send ``vehicle`` to ``place`` on the master control's own account (yield, charge).

        An errand is a task like any other (journaled, shown to the hub, in
        the robot's log), so an operator sees why the vehicle moves.
        """
        step = StepSpec(kind="go", place=place)
        task = VdaTask.create(
            f"{category}.vda-{uuid.uuid4().hex[:12]}",
            {"category": category, "description": description or {"place": place}},
            [PhaseSpec(category=category.capitalize(), detail={"place": place}, steps=[step])],
            vehicle.fleet,
            now,
            vehicle.robot,
        )
        self.tasks[task.id] = task
        self._save(task)
        return self._start(vehicle, task, now)

    def _charge(self, now: int) -> None:
        """Idle vehicles at or below the critical charge go to the nearest free charger."""
        for vehicle in self.vehicles.values():
            state = vehicle.state
            origin = self._origin(vehicle)
            if (
                state is None
                or origin is None
                or not vehicle.idle
                or (origin.on_node and origin.vertex.charger)
            ):
                continue
            if v2.battery_fraction(state) > self.config.battery.critical:
                continue
            charger = self.nearest_charger(vehicle, origin.start)
            if charger is not None and self._errand(vehicle, "charge", charger, now):
                self._fleet_note(
                    vehicle.fleet,
                    vehicle.robot,
                    f"Battery {v2.battery_fraction(state):.0%} is critical: goes to charge at"
                    f" [place:{charger}]",
                    "warning",
                )

    def nearest_charger(self, vehicle: Vehicle, origin: str) -> str | None:
        """The nearest charger ``vehicle`` reaches from ``origin`` that no other robot holds."""
        key = _robot_key(vehicle.fleet, vehicle.robot)
        chargers = [
            (self.graph.distance(origin, v.id), v.id)
            for v in self.graph.vertices.values()
            if v.charger and self.traffic.owner.get(node_key(v.id)) in (None, key)
        ]
        reachable = sorted(c for c in chargers if not math.isinf(c[0]))
        return reachable[0][1] if reachable else None

    def _return_idle(self, now: int) -> None:
        """Vehicles idle ``idle.after_s`` go to a parking spot or charger (:mod:`vda5050.idle`)."""
        policy = self.config.idle
        if policy.mode == "stay":
            return
        mono = self._monotonic()
        going = {
            t.steps[0].spec.place
            for t in self.tasks.values()
            if not t.terminal and t.category in ("park", "charge")
        }
        for key, vehicle in self._by_key.items():
            idle = vehicle.idle and vehicle.fresh(mono, self.config.state_timeout_s)
            origin = self._origin(vehicle) if idle else None
            if not self._idle_clock.due(key, idle, mono, policy.after_s) or origin is None:
                continue
            if origin.on_node and home(origin.vertex, policy.mode):
                continue
            held = {
                v.id
                for v in self.graph.vertices.values()
                if home(v, policy.mode)
                and self.traffic.owner.get(node_key(v.id)) not in (None, key)
            }
            place = destination(self.graph, policy.mode, origin.start, going | held)
            if place is None:
                continue
            if self._errand(vehicle, policy.mode, place, now, errand_description(place)):
                going.add(place)
                self._fleet_note(
                    vehicle.fleet,
                    vehicle.robot,
                    f"Idle for {policy.after_s:.0f} s: returns to [place:{place}] ({policy.mode})",
                )

    def _reported(self, vehicle: Vehicle) -> None:
        """``vehicle``'s own report is new: its fleet's state is due (:mod:`vda5050.pacing`)."""
        self._moved.add(vehicle.id)
        self._pacer.reported(vehicle.fleet, self._fleet_size.get(vehicle.fleet, 0))

    def flush_due_in(self) -> float | None:
        """Seconds until :meth:`flush` has something to send (0: now), or None if nothing waits."""
        if self._dirty or any(self._fleet_log.values()):
            return 0.0
        due = self._pacer.next_due()
        return None if due is None else max(0.0, due - self._monotonic())

    def flush(self) -> None:
        """Send the hub the fleets that changed and the fleet log entries made since the last flush.

        A fleet whose only change is new reports of some vehicles (the common
        case: states at 2 Hz) makes only those vehicles' robot states again,
        and goes once its window is over (:mod:`vda5050.pacing`: every report
        in the window shows, the latest of each vehicle); anything else that
        changes a fleet (a task, a connection, traffic, the tick) makes all of
        them again and goes now. :meth:`flush_due_in` says when to call again.
        """
        mono = self._monotonic()
        dirty, self._dirty = self._dirty, set()
        due = dirty | self._pacer.due(mono)
        moved = {v for v in self._moved if self.vehicles[v].fleet in due}
        self._moved -= moved
        self._pacer.sent(due, mono)
        for state in self.fleet_states(due, moved=moved, reuse=due - dirty):
            self._to_hub(encode(IngestType.FLEET_STATE, state), False)
        for fleet, entries in self._fleet_log.items():
            if not entries:
                continue
            update: dict[str, Any] = {"name": fleet, "robots": {}}
            for robot, entry in entries:
                if robot:
                    update["robots"].setdefault(robot, []).append(entry)
                else:
                    update.setdefault("log", []).append(entry)
            self._to_hub(encode(IngestType.FLEET_LOG, update), True)
        self._fleet_log = {}

    def fleet_states(
        self,
        fleets: set[str] | None = None,
        *,
        moved: set[VehicleId] | None = None,
        reuse: set[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The fleets' states; in ``reuse`` fleets, robots not ``moved`` keep their last state.

        A robot's ``unix_millis_time`` is when its state was made: a robot
        state kept is the same JSON as before, so the hub validates only the
        new ones (:mod:`fleetcore.contract.robot_reuse`).
        """
        now, mono = self._clock_ms(), self._monotonic()
        names = self.served_fleets() if fleets is None else fleets & self.served_fleets()
        robots: dict[str, dict[str, Any]] = {name: {} for name in names}
        for vehicle in self.vehicles.values():
            if vehicle.fleet not in robots or not vehicle.fresh(mono, self.config.state_timeout_s):
                continue
            last = self._docs.get(vehicle.id)
            if last is None or vehicle.fleet not in (reuse or ()) or vehicle.id in (moved or ()):
                last = self._docs[vehicle.id] = vehicle.robot_state(now)
            robots[vehicle.fleet][vehicle.robot] = last
        return [{"name": name, "robots": robots[name], MARK: True} for name in sorted(names)]

    def _fleet_note(self, fleet: str, robot: str, text: str, tier: str = "info") -> None:
        key = (fleet, robot)
        seq = self._fleet_log_seq.get(key, 0)
        self._fleet_log_seq[key] = seq + 1
        entry = {"seq": seq, "tier": tier, "unix_millis_time": self._clock_ms(), "text": text}
        self._fleet_log.setdefault(fleet, []).append((robot, entry))


def _robot_key(fleet: str, robot: str) -> str:
    return robot_key(fleet, robot)


def _refusal(state: v2.State, order_id: str) -> str | None:
    """Why the vehicle refused order ``order_id``, if an error of its state says so."""
    for error in state.errors:
        refs = {r.referenceKey: r.referenceValue for r in error.errorReferences or []}
        if error.errorType in ORDER_REFUSALS and refs.get("orderId") == order_id:
            return error.errorDescription or error.errorType
    return None


def _stopping(track: OrderTrack | None) -> bool:
    """A cancel was sent for ``track`` and its vehicle's state has not shown it taken."""
    return track is not None and bool(track.cancel_action) and not track.cancel_acked


def _cancel_taken(state: v2.State | None, order_id: str, action_id: str) -> bool:
    """The vehicle took the cancel: it lists the action, or holds the order no more."""
    if state is None:
        return False
    listed = any(a.actionId == action_id for a in state.actionStates)
    return listed or state.orderId != order_id or not state.nodeStates
