"""Simulated tasks: plans built from RMF task requests, and their task_state / task_log JSON.

A task is a list of phases; a phase is a list of steps the simulation
executes (drive to a place, wait on a dispenser or ingestor, clean a zone).
Rendering follows rmf_api_msgs: phase events keyed by id with event 0 the
phase's sequence, and logs whose ``seq`` grows monotonically per log (task
log, each phase log, each event log) and are sent as new entries only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from fleetcore.contract.rmf.task_rendering import TaskLogBook, phase_state
from fleetcore.errors import FleethubError
from simulator.building import Site, Vertex

StepKind = Literal["go", "handle", "clean"]
TERMINAL = frozenset({"completed", "failed", "canceled", "killed"})
CATEGORIES = ("patrol", "delivery", "clean")
_PLACE = {"type": "string"}
DESCRIPTION_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "patrol": (
        "Visit places in order, some rounds",
        {
            "type": "object",
            "properties": {
                "places": {"type": "array", "items": _PLACE, "minItems": 1},
                "rounds": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            "required": ["places"],
        },
    ),
    "delivery": (
        "Pick up at a dispenser, drop off at an ingestor",
        {
            "type": "object",
            "properties": {
                leg: {
                    "type": "object",
                    "properties": {
                        "place": _PLACE,
                        "handler": _PLACE,
                        "payload": {"type": "array"},
                    },
                    "required": ["place"],
                }
                for leg in ("pickup", "dropoff")
            },
            "required": ["pickup", "dropoff"],
        },
    ),
    "clean": (
        "Clean a zone",
        {"type": "object", "properties": {"zone": _PLACE}, "required": ["zone"]},
    ),
}
"""What the simulated fleets answer a task_discovery_request with: (detail, description schema)."""


class CommandRejected(FleethubError):
    """A task request or command the simulated fleet refuses; the message says why."""


@dataclass(slots=True)
class Step:
    kind: StepKind
    name: str
    place: str = ""
    handler: str = ""
    seconds: float = 0.0
    status: str = "standby"
    estimate_ms: int = 0


@dataclass(slots=True)
class PhasePlan:
    id: int
    category: str
    detail: Any
    steps: list[Step]
    start_ms: int | None = None
    finish_ms: int | None = None
    original_estimate_ms: int | None = None
    skip_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    """RMF's skip requests by token; one without ``undo`` makes the phase be skipped."""

    @property
    def skip_requested(self) -> bool:
        return any("undo" not in request for request in self.skip_requests.values())

    @property
    def remaining_ms(self) -> int:
        return sum(s.estimate_ms for s in self.steps if s.status not in TERMINAL)

    def state(self) -> dict[str, Any]:
        doc = phase_state(
            self.id,
            self.category,
            self.detail,
            [(s.status, s.name) for s in self.steps],
            estimate_ms=self.remaining_ms,
            original_estimate_ms=self.original_estimate_ms,
            start_ms=self.start_ms,
            finish_ms=self.finish_ms,
        )
        if self.skip_requests:
            doc["skip_requests"] = self.skip_requests
        return doc


@dataclass(slots=True)
class RequestInfo:
    unix_millis_request_time: int
    labels: list[str]


@dataclass
class SimTask:
    id: str
    category: str
    description: dict[str, Any]
    phases: list[PhasePlan]
    booking: dict[str, Any]
    fleet: str = ""
    """The fleet asked for in the request (or chosen at assignment); empty: any."""
    robot: str = ""
    status: str = "queued"
    dispatch_status: str = "queued"
    active: int = 0
    """Index of the running phase in ``phases``."""
    step_index: int = 0
    start_ms: int | None = None
    finish_ms: int | None = None
    stop_request: tuple[str, RequestInfo] | None = None
    """``("cancellation"|"killed", info)`` once a cancel or kill was accepted."""
    interruptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """RMF's interruptions by token; the task is paused while one is not ``resumed``."""
    log: TaskLogBook = field(init=False)

    def __post_init__(self) -> None:
        self.log = TaskLogBook(task_id=self.id)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def phase(self) -> PhasePlan:
        return self.phases[self.active]

    @property
    def step(self) -> Step:
        return self.phase.steps[self.step_index]

    def assign(self, fleet: str, robot: str, step_estimates_ms: list[int]) -> None:
        self.fleet, self.robot = fleet, robot
        self.dispatch_status = "dispatched"
        estimates = iter(step_estimates_ms)
        for phase in self.phases:
            for step in phase.steps:
                step.estimate_ms = next(estimates)
            phase.original_estimate_ms = sum(s.estimate_ms for s in phase.steps)

    def begin(self, now_ms: int) -> None:
        self.status = "underway"
        self.start_ms = now_ms
        self.log.add(now_ms, f"Beginning task, assigned to [robot:{self.robot}]")
        self._begin_phase(now_ms)

    def _begin_phase(self, now_ms: int) -> None:
        self.phase.start_ms = now_ms
        self.log.add(now_ms, "Beginning phase", phase=self.phase.id)

    def start_step(self, now_ms: int, text: str) -> None:
        self.step.status = "underway"
        self.log.add(now_ms, text, phase=self.phase.id, event=self.step_index + 1)

    def note(self, now_ms: int, text: str, tier: str = "info") -> None:
        """Log against the running step."""
        self.log.add(now_ms, text, tier=tier, phase=self.phase.id, event=self.step_index + 1)

    def finish_step(self, now_ms: int, text: str) -> None:
        """Complete the running step; move to the next step, phase, or completion."""
        self.step.status = "completed"
        self.note(now_ms, text)
        self.step_index += 1
        if self.step_index < len(self.phase.steps):
            return
        self.phase.finish_ms = now_ms
        self.log.add(now_ms, "Completed phase", phase=self.phase.id)
        self._next_phase(now_ms)

    # ------------------------------------------------ interruption, skip, rewind

    @property
    def paused(self) -> bool:
        return any("resumed" not in i for i in self.interruptions.values())

    def interrupt(self, now_ms: int, labels: list[str]) -> str:
        """Pause the task; the token resumes it."""
        self._require_open()
        token = f"{self.id}:interruption-{len(self.interruptions) + 1}"
        self.interruptions[token] = {"unix_millis_request_time": now_ms, "labels": labels}
        self.log.add(now_ms, "Task interrupted by request", tier="warning")
        return token

    def resume(self, now_ms: int, tokens: list[str], labels: list[str]) -> None:
        """Release interruptions; the task goes on once none is left."""
        self._require_open()
        unknown = sorted(
            t for t in tokens if t not in self.interruptions or "resumed" in self.interruptions[t]
        )
        if unknown:
            raise CommandRejected(f"task {self.id!r} has no open interruption {unknown}")
        for token in tokens:
            self.interruptions[token]["resumed"] = {
                "unix_millis_request_time": now_ms,
                "labels": labels,
            }
        if not self.paused:
            self.log.add(now_ms, "Task resumed by request")

    def request_skip(self, now_ms: int, phase_id: int, labels: list[str]) -> str:
        """Ask for a phase to be skipped (the running one at the next step); returns the token."""
        self._require_open()
        index = self._phase_index(phase_id)
        if index < self.active or (self.status == "completed"):
            raise CommandRejected(f"phase {phase_id} of task {self.id!r} is already finished")
        phase = self.phases[index]
        token = f"{self.id}:skip-{sum(len(p.skip_requests) for p in self.phases) + 1}"
        phase.skip_requests[token] = {"unix_millis_request_time": now_ms, "labels": labels}
        return token

    def undo_skip(self, now_ms: int, tokens: list[str], labels: list[str]) -> None:
        """Take back skip requests of phases not yet skipped."""
        self._require_open()
        for token in tokens:
            phase = next((p for p in self.phases if token in p.skip_requests), None)
            if phase is None or "undo" in phase.skip_requests[token]:
                raise CommandRejected(f"task {self.id!r} has no open skip request {token!r}")
            if self.phases.index(phase) < self.active:
                raise CommandRejected(f"phase {phase.id} of task {self.id!r} was already skipped")
        for token in tokens:
            phase = next(p for p in self.phases if token in p.skip_requests)
            phase.skip_requests[token]["undo"] = {
                "unix_millis_request_time": now_ms,
                "labels": labels,
            }

    def skip_running_phase(self, now_ms: int) -> None:
        """Skip what is left of the running phase and go on with the next."""
        for step in self.phase.steps[self.step_index :]:
            step.status = "skipped"
        self.phase.finish_ms = now_ms
        self.log.add(now_ms, "Skipped phase by request", tier="warning", phase=self.phase.id)
        self._next_phase(now_ms)

    def rewind(self, now_ms: int, phase_id: int) -> None:
        """Run again from an earlier (or the running) phase."""
        if self.status != "underway":
            raise CommandRejected(f"task {self.id!r} is {self.status}, not underway")
        index = self._phase_index(phase_id)
        if index > self.active:
            raise CommandRejected(f"phase {phase_id} of task {self.id!r} has not been reached")
        for phase in self.phases[index:]:
            phase.finish_ms = None
            phase.start_ms = None
            for step in phase.steps:
                step.status = "standby"
        self.active, self.step_index = index, 0
        self.log.add(now_ms, f"Rewound to phase {phase_id} by request", tier="warning")
        self._begin_phase(now_ms)

    def _require_open(self) -> None:
        if self.terminal:
            raise CommandRejected(f"task {self.id!r} already {self.status}")

    def _phase_index(self, phase_id: int) -> int:
        for index, phase in enumerate(self.phases):
            if phase.id == phase_id:
                return index
        raise CommandRejected(
            f"task {self.id!r} has no phase {phase_id}; phases are {[p.id for p in self.phases]}"
        )

    def _next_phase(self, now_ms: int) -> None:
        if self.active + 1 < len(self.phases):
            self.active += 1
            self.step_index = 0
            self._begin_phase(now_ms)
            return
        self.status = "completed"
        self.finish_ms = now_ms
        self.log.add(now_ms, "Task completed")

    def end(self, now_ms: int, status: str, text: str, tier: str) -> None:
        """Stop for good as failed, canceled or killed."""
        if self.status == "underway":
            self.step.status = status
            self.note(now_ms, text, tier)
            self.phase.finish_ms = now_ms
            for phase in self.phases[self.active :]:
                for step in phase.steps:
                    if step.status == "standby":
                        step.status = "skipped" if status == "failed" else status
        self.status = status
        self.finish_ms = now_ms
        self.log.add(now_ms, text, tier=tier)

    def state(self, now_ms: int) -> dict[str, Any]:
        """RMF task_state JSON."""
        doc: dict[str, Any] = {
            "booking": self.booking,
            "category": self.category,
            "detail": self.description,
            "status": self.status,
            "dispatch": {"status": self.dispatch_status},
            "phases": {str(p.id): p.state() for p in self.phases},
        }
        if self.robot:
            doc["assigned_to"] = {"group": self.fleet, "name": self.robot}
            doc["dispatch"]["assignment"] = {
                "fleet_name": self.fleet,
                "expected_robot_name": self.robot,
            }
            original = sum(p.original_estimate_ms or 0 for p in self.phases)
            doc["original_estimate_millis"] = original
            doc["estimate_millis"] = sum(p.remaining_ms for p in self.phases)
        ids = [p.id for p in self.phases]
        if self.start_ms is not None:
            doc["unix_millis_start_time"] = self.start_ms
        doc["completed"] = ids if self.status == "completed" else ids[: self.active]
        if self.status == "queued":
            doc["pending"] = ids
        elif not self.terminal:
            doc["active"] = self.phase.id
            doc["pending"] = ids[self.active + 1 :]
        if self.finish_ms is not None:
            doc["unix_millis_finish_time"] = self.finish_ms
        if self.interruptions:
            doc["interruptions"] = self.interruptions
        if self.stop_request is not None:
            kind, info = self.stop_request
            doc[kind] = {
                "unix_millis_request_time": info.unix_millis_request_time,
                "labels": info.labels,
            }
        return doc


def plan_task(
    site: Site,
    task_id: str,
    request: dict[str, Any],
    now_ms: int,
) -> SimTask:
    """Build a task from an RMF task_request; raise :class:`CommandRejected` if unusable."""
    category = request.get("category")
    description = request.get("description")
    if category not in CATEGORIES:
        raise CommandRejected(f"category {category!r} is not one of {list(CATEGORIES)}")
    if not isinstance(description, dict):
        raise CommandRejected("description must be an object")
    builders = {"patrol": _patrol, "delivery": _delivery, "clean": _clean}
    phases = builders[category](site, description)
    booking: dict[str, Any] = {
        "id": task_id,
        "unix_millis_request_time": int(request.get("unix_millis_request_time", now_ms)),
        "labels": [str(label) for label in request.get("labels", [])],
    }
    for key in ("unix_millis_earliest_start_time", "priority", "requester"):
        if request.get(key) is not None:
            booking[key] = request[key]
    fleet = request.get("fleet_name") or ""
    return SimTask(task_id, category, description, phases, booking, fleet=str(fleet))


def _place(site: Site, name: Any, role: str) -> Vertex:
    vertex = site.vertices.get(name) if isinstance(name, str) else None
    if vertex is None or not vertex.place:
        raise CommandRejected(f"{role}: {name!r} is not a place of {site.name}")
    return vertex


def _go(place: str) -> Step:
    return Step("go", f"Go to [place:{place}]", place=place)


def _patrol(site: Site, description: dict[str, Any]) -> list[PhasePlan]:
    places = description.get("places")
    rounds = description.get("rounds", 1)
    if not isinstance(places, list) or not places:
        raise CommandRejected("patrol: description.places must be a non-empty list")
    if not isinstance(rounds, int) or not 1 <= rounds <= 100:
        raise CommandRejected("patrol: description.rounds must be an integer from 1 to 100")
    for name in places:
        _place(site, name, "patrol")
    visits = [name for _ in range(rounds) for name in places]
    return [
        PhasePlan(i, "Go to place", {"place": name}, [_go(name)])
        for i, name in enumerate(visits, start=1)
    ]


def _delivery(site: Site, description: dict[str, Any]) -> list[PhasePlan]:
    phases: list[PhasePlan] = []
    for i, (role, field_name, category, verb) in enumerate(
        (
            ("pickup", "dispenser", "Pick Up", "Receive items"),
            ("dropoff", "ingestor", "Drop Off", "Unload items"),
        ),
        start=1,
    ):
        leg = description.get(role)
        if not isinstance(leg, dict):
            raise CommandRejected(f"delivery: description.{role} must be an object")
        vertex = _place(site, leg.get("place"), f"delivery {role}")
        handler = leg.get("handler") or getattr(vertex, field_name)
        if not handler:
            raise CommandRejected(f"delivery {role}: {vertex.name} has no {field_name}")
        payload = leg.get("payload", [])
        detail = {"location": vertex.name, "handler": handler, "payload": payload}
        steps = [_go(vertex.name), Step("handle", verb, handler=str(handler), seconds=6.0)]
        phases.append(PhasePlan(i, category, detail, steps))
    return phases


def _clean(site: Site, description: dict[str, Any]) -> list[PhasePlan]:
    zone = _place(site, description.get("zone"), "clean zone")
    return [
        PhasePlan(1, "Go to place", {"place": zone.name}, [_go(zone.name)]),
        PhasePlan(
            2,
            "Clean",
            {"zone": zone.name},
            [Step("clean", f"Clean [zone:{zone.name}]", place=zone.name)],
        ),
    ]
