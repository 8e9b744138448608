"""A task on a VDA 5050 vehicle: its route as an order, its progress, its RMF task_state and log.

When a task is assigned, its phases' steps are laid on the navigation graph
as one route from where the vehicle stands: the order's nodes (sequenceId
``2i``) and edges (``2i+1``), with ``pick``/``drop`` actions on the nodes
where they happen. The task follows the vehicle's state: a ``go`` step is
done once ``lastNodeSequenceId`` reaches its node, an action step once its
``actionState`` is ``FINISHED`` (``FAILED`` fails the task).

The whole record is a pydantic model, so the master control journals it as
JSON before every order it sends and restores it after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from fleetcore.contract.rmf.task_rendering import TaskLogBook, phase_state
from vda5050.requests import PhaseSpec, StepSpec

TaskStatus = Literal["queued", "underway", "blocked", "completed", "failed", "canceled", "killed"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "canceled", "killed"})
StepStatus = Literal["standby", "underway", "completed", "failed", "canceled", "killed", "skipped"]


class PlanNode(BaseModel):
    """One node of the order, in route order (its sequenceId is twice its index)."""

    vertex: str
    actions: list[str] = []
    """The ids of the step actions performed on this node."""


class Step(BaseModel):
    spec: StepSpec
    status: StepStatus = "standby"
    node_index: int = 0
    """The order node this step ends on (a ``go``) or is performed at (an action)."""
    action_id: str = ""
    estimate_ms: int = 0


class Phase(BaseModel):
    id: int
    category: str
    detail: Any
    steps: list[Step]
    start_ms: int | None = None
    finish_ms: int | None = None
    original_estimate_ms: int | None = None

    @property
    def remaining_ms(self) -> int:
        return sum(s.estimate_ms for s in self.steps if s.status not in TERMINAL)


class OrderTrack(BaseModel):
    """What was sent to the vehicle: enough to build any update again, byte for byte."""

    order_id: str
    nodes: list[PlanNode]
    lanes: list[str]
    first_deviation_m: float
    """The first node's ``allowedDeviationXY``: wide enough to cover where the vehicle stood."""
    update_id: int = -1
    """The last ``orderUpdateId`` sent; -1 before the first."""
    from_index: int = 0
    """The first node of the last update sent (its stitching node)."""
    released_end: int = 0
    """The last node the last update released (the decision point)."""
    acked: bool = False
    """The vehicle's state carries ``update_id``."""
    sent_ms: int = 0
    resends: int = 0
    traversed: int = -1
    """The last node the vehicle reported traversed (``lastNodeSequenceId // 2``)."""
    left: int = -1
    """The last node the vehicle was seen clear of, on the lane after it (traffic control freed it)."""
    cancel_action: str = ""
    """The ``cancelOrder`` instant action's id once a cancel was sent."""
    cancel_acked: bool = False

    @property
    def last(self) -> int:
        return len(self.nodes) - 1


class VdaTask(BaseModel):
    id: str
    category: str
    detail: Any
    booking: dict[str, Any]
    fleet: str
    robot: str = ""
    """Empty until assigned (a dispatch to a fleet waits for an idle vehicle)."""
    requested_robot: bool = False
    """A robot task: only ``robot`` may take it."""
    phases: list[Phase]
    status: TaskStatus = "queued"
    start_ms: int | None = None
    finish_ms: int | None = None
    stop_request: tuple[str, int, list[str]] | None = None
    """``("cancellation"|"killed", request time, labels)`` once a cancel or kill was accepted."""
    order: OrderTrack | None = None
    log: TaskLogBook

    @classmethod
    def create(
        cls,
        task_id: str,
        request: dict[str, Any],
        phases: list[PhaseSpec],
        fleet: str,
        now_ms: int,
        robot: str = "",
    ) -> VdaTask:
        booking: dict[str, Any] = {
            "id": task_id,
            "unix_millis_request_time": int(request.get("unix_millis_request_time") or now_ms),
            "labels": [str(label) for label in request.get("labels", [])],
        }
        for key in ("unix_millis_earliest_start_time", "priority", "requester"):
            if request.get(key) is not None:
                booking[key] = request[key]
        return cls(
            id=task_id,
            log=TaskLogBook(task_id=task_id),
            category=str(request.get("category")),
            detail=request.get("description"),
            booking=booking,
            fleet=fleet,
            robot=robot,
            requested_robot=bool(robot),
            phases=[
                Phase(
                    id=i,
                    category=p.category,
                    detail=p.detail,
                    steps=[Step(spec=s) for s in p.steps],
                )
                for i, p in enumerate(phases, start=1)
            ],
        )

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase.steps]

    @property
    def active_phase(self) -> Phase | None:
        for phase in self.phases:
            if any(s.status not in TERMINAL for s in phase.steps):
                return phase
        return None

    # ------------------------------------------------------------ lifecycle

    def assign(self, robot: str, order: OrderTrack, speed_mps: float, lengths: list[float]) -> None:
        """Given to ``robot`` with its route; ``lengths`` are the metres to each order node."""
        self.robot = robot
        self.order = order
        action_s = 5.0
        at = 0.0
        for step in self.steps:
            if step.spec.kind == "go":
                reach = lengths[step.node_index]
                step.estimate_ms = int(max(0.0, reach - at) / speed_mps * 1000)
                at = reach
            else:
                step.estimate_ms = int(action_s * 1000)
        for phase in self.phases:
            phase.original_estimate_ms = sum(s.estimate_ms for s in phase.steps)

    def begin(self, now_ms: int) -> None:
        self.status = "underway"
        self.start_ms = now_ms
        self.log.add(now_ms, f"Beginning task, assigned to [robot:{self.robot}]")

    def end(self, now_ms: int, status: TaskStatus, text: str, tier: str) -> None:
        """Stop for good as completed, failed, canceled or killed."""
        if self.terminal:
            return
        phase = self.active_phase
        if phase is not None and status != "completed":
            for step in phase.steps:
                if step.status == "underway":
                    step.status = "failed" if status == "failed" else status  # type: ignore[assignment]
                    self.log.add(
                        now_ms, text, tier=tier, phase=phase.id, event=phase.steps.index(step) + 1
                    )
            phase.finish_ms = now_ms
            for later in self.phases:
                for step in later.steps:
                    if step.status == "standby":
                        step.status = "skipped" if status == "failed" else status  # type: ignore[assignment]
        self.status = status
        self.finish_ms = now_ms
        self.log.add(now_ms, text, tier=tier)

    def progress(self, now_ms: int, traversed: int, actions: Mapping[str, tuple[str, str]]) -> bool:
        """Advance the steps by the vehicle's progress; True if anything changed.

        ``actions``: this order's action states by id, as ``(actionStatus, resultDescription)``.
        """
        changed = False
        for phase in self.phases:
            if phase.finish_ms is not None:
                continue
            for index, step in enumerate(phase.steps, start=1):
                if step.status in TERMINAL:
                    continue
                if phase.start_ms is None:
                    phase.start_ms = now_ms
                    self.log.add(now_ms, "Beginning phase", phase=phase.id)
                if step.status == "standby":
                    step.status = "underway"
                    self.log.add(now_ms, _starting(step.spec), phase=phase.id, event=index)
                    changed = True
                outcome = _step_outcome(step, traversed, actions)
                if outcome is None:
                    return changed
                status, text = outcome
                if status == "failed":
                    self.end(now_ms, "failed", text, "error")
                    return True
                step.status = "completed"
                self.log.add(now_ms, text, phase=phase.id, event=index)
                changed = True
            phase.finish_ms = now_ms
            self.log.add(now_ms, "Completed phase", phase=phase.id)
        if self.status in ("underway", "blocked"):
            self.status = "completed"
            self.finish_ms = now_ms
            self.log.add(now_ms, "Task completed")
            changed = True
        return changed

    # -------------------------------------------------------------- render

    def state(self) -> dict[str, Any]:
        """rmf_api_msgs task_state."""
        doc: dict[str, Any] = {
            "booking": self.booking,
            "category": self.category,
            "detail": self.detail,
            "status": self.status,
            "dispatch": {"status": "dispatched" if self.robot else "queued"},
            "phases": {str(p.id): _phase_state(p) for p in self.phases},
        }
        if self.robot:
            doc["assigned_to"] = {"group": self.fleet, "name": self.robot}
            doc["dispatch"]["assignment"] = {
                "fleet_name": self.fleet,
                "expected_robot_name": self.robot,
            }
            doc["original_estimate_millis"] = sum(p.original_estimate_ms or 0 for p in self.phases)
            doc["estimate_millis"] = sum(p.remaining_ms for p in self.phases)
        elif self.terminal:
            doc["dispatch"]["status"] = "canceled_in_flight"
        ids = [p.id for p in self.phases]
        doc["completed"] = [
            p.id for p in self.phases if all(s.status == "completed" for s in p.steps)
        ]
        active = self.active_phase
        if self.status == "queued":
            doc["pending"] = ids
        elif not self.terminal and active is not None:
            doc["active"] = active.id
            doc["pending"] = [i for i in ids if i > active.id]
        if self.start_ms is not None:
            doc["unix_millis_start_time"] = self.start_ms
        if self.finish_ms is not None:
            doc["unix_millis_finish_time"] = self.finish_ms
        if self.stop_request is not None:
            kind, at, labels = self.stop_request
            doc[kind] = {"unix_millis_request_time": at, "labels": labels}
        return doc


def _starting(spec: StepSpec) -> str:
    if spec.kind == "go":
        return f"Moving towards [place:{spec.place}]"
    return f"{'Picking up' if spec.kind == 'pick' else 'Dropping off'} at [place:{spec.place}]"


def _step_outcome(
    step: Step, traversed: int, actions: Mapping[str, tuple[str, str]]
) -> tuple[str, str] | None:
    """``(status, log line)`` once the step is over, else None."""
    if step.spec.kind == "go":
        if traversed >= step.node_index:
            return "completed", f"Arrived at [place:{step.spec.place}]"
        return None
    status, result = actions.get(step.action_id, ("WAITING", ""))
    verb = "Pick up" if step.spec.kind == "pick" else "Drop off"
    if status == "FINISHED":
        return "completed", f"{verb} finished" + (f": {result}" if result else "")
    if status == "FAILED":
        return "failed", f"{verb} at [place:{step.spec.place}] failed" + (
            f": {result}" if result else ""
        )
    return None


def _phase_state(phase: Phase) -> dict[str, Any]:
    return phase_state(
        phase.id,
        phase.category,
        phase.detail,
        [(s.status, s.spec.name) for s in phase.steps],
        estimate_ms=phase.remaining_ms,
        original_estimate_ms=phase.original_estimate_ms,
        start_ms=phase.start_ms,
        finish_ms=phase.finish_ms,
    )
