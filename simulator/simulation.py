"""The simulated site as one deterministic state machine, advanced by ``step(dt)``.

Time is injected: ``step(dt)`` moves the clock by ``dt`` seconds and nothing
here reads the wall clock, so tests run a simulated hour in milliseconds and
the runner drives it in real time. One step advances every robot, task and
device at once (no per-robot timers), which keeps 200 robots cheap.

What happens is queued as outgoing ``(IngestType, data)`` pairs taken with
:meth:`Simulation.drain`; periodic states (fleet, devices) and the full
re-send after a reconnect are built on demand.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fleetcore.contract.ingest import IngestType
from fleetcore.contract.rmf import BuildingMap
from fleetcore.errors import ConfigError
from fleetcore.settings import DEFAULTS, Settings
from simulator.building import Site, Vertex, sample_site
from simulator.devices import DOOR_OPEN, SimDoor, SimHandler, SimLift
from simulator.fleet_log import FleetLogBook
from simulator.navigation import Navigator
from simulator.robots import RobotProfile, SimRobot, Waypoint
from simulator.tasks import CommandRejected, RequestInfo, SimTask, plan_task

Outgoing = tuple[IngestType, dict[str, Any]]
INCIDENTS_KEPT = 100
"""Incidents waiting for :meth:`Simulation.drain_incidents`; older ones are dropped."""


@dataclass(frozen=True, slots=True)
class Incident:
    """A robot stopped (stuck) or failed its task: where it was, for a snapshot of it.

    ``task_id`` is the task that failed; empty for a robot stuck with no task failed.
    """

    fleet: str
    robot: str
    task_id: str
    time_ms: int
    what: str
    level: str
    x: float
    y: float


FLEET_NAMES = ("tinyRobot", "deliveryRobot", "cleanerBot", "patrolBot")
CLEAN_SPEED_FACTOR = 0.5
CLEAN_PATTERN = ((-1.5, -1.5), (1.5, -1.5), (1.5, -0.5), (-1.5, -0.5), (-1.5, 0.5), (1.5, 0.5))
"""Boustrophedon offsets (metres) a cleaning robot sweeps around its zone's vertex."""
LIFT_END_SESSION = 0
"""rmf_lift_msgs/LiftRequest.REQUEST_END_SESSION; the other request types start one."""
OPERATOR_SESSION = "operator"
"""The lift session of requests from outside (the dashboard, REST), beside the robots' rides."""
CHARGING_ELIGIBLE_BATTERY = 0.5
"""A charging robot above this level may interrupt charging for a task."""


@dataclass(frozen=True)
class SimConfig:
    """What the simulated site looks like and how it behaves.

    The defaults are the ``sim_*`` settings', except that a simulation built
    in code is quiet unless asked: no tasks of its own, no failed hand-overs.
    """

    robots: int = DEFAULTS.sim_robots
    fleets: int = DEFAULTS.sim_fleets
    seed: int = DEFAULTS.sim_seed
    auto_tasks_s: float = 0.0
    """Seconds between tasks the simulation creates itself; 0: none."""
    task_failure_probability: float = 0.0
    """Chance that a dispenser or ingestor hand-over fails, failing its task."""
    profile: RobotProfile = field(default_factory=RobotProfile)
    retain_finished_tasks: int = 200
    """Finished tasks kept (and re-sent on reconnect); older ones are forgotten."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SimConfig:
        if not settings.sim_robot_speed_mps > 0:
            raise ConfigError(
                f"FLEETHUB_SIM_ROBOT_SPEED_MPS must be positive, not {settings.sim_robot_speed_mps}"
            )
        if not 0 <= settings.sim_task_failure_probability <= 1:
            raise ConfigError(
                "FLEETHUB_SIM_TASK_FAILURE_PROBABILITY must be from 0 to 1, "
                f"not {settings.sim_task_failure_probability}"
            )
        return cls(
            robots=settings.sim_robots,
            fleets=settings.sim_fleets,
            seed=settings.sim_seed,
            auto_tasks_s=settings.sim_auto_tasks_s,
            task_failure_probability=settings.sim_task_failure_probability,
            profile=RobotProfile(speed_mps=settings.sim_robot_speed_mps),
        )

    def fleet_names(self) -> list[str]:
        return [
            FLEET_NAMES[i] if i < len(FLEET_NAMES) else f"fleet{i + 1}"
            for i in range(max(1, self.fleets))
        ]


class Simulation:
    """Robots in fleets, their tasks, doors, a lift, dispensers and ingestors."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        site: Site | None = None,
        start_ms: int = 1_700_000_000_000,
    ) -> None:
        self.config = config or SimConfig()
        self.site = site or sample_site()
        self.navigator = Navigator(self.site)
        self._now = float(start_ms)
        self._rng = random.Random(self.config.seed)
        self._out: list[Outgoing] = []
        self._incidents: deque[Incident] = deque(maxlen=INCIDENTS_KEPT)
        self._auto_left = 0.0  # the first task at once, so a fresh demo moves
        self.tasks: dict[str, SimTask] = {}
        self.fleets: dict[str, dict[str, SimRobot]] = {n: {} for n in self.config.fleet_names()}
        self.fleet_logs = {name: FleetLogBook(name) for name in self.fleets}
        self._spawn()
        self.doors = {d.name: SimDoor(d) for d in self.site.doors}
        self.lifts = {
            lift.name: SimLift(lift, list(lift.cabins), next(iter(lift.cabins)))
            for lift in self.site.lifts
        }
        self.dispensers = {v.dispenser: SimHandler(v.dispenser) for v in self.site.dispensers}
        self.ingestors = {v.ingestor: SimHandler(v.ingestor) for v in self.site.ingestors}
        self._map: BuildingMap | None = None

    def _spawn(self) -> None:
        spots = self.site.spawn_points()
        names = list(self.fleets)
        for i in range(self.config.robots):
            fleet = names[i % len(names)]
            spot = spots[i % len(spots)]
            name = f"{fleet}{len(self.fleets[fleet]) + 1}"
            self.fleets[fleet][name] = SimRobot(
                fleet=fleet,
                name=name,
                level=spot.level,
                x=spot.x,
                y=spot.y,
                yaw=0.0,
                battery=round(self._rng.uniform(0.6, 1.0), 3),
                profile=self.config.profile,
                vertex=spot.name,
            )

    # ------------------------------------------------------------------ time

    @property
    def now_ms(self) -> int:
        return int(self._now)

    def step(self, dt: float) -> None:
        """Advance the whole site by ``dt`` seconds of simulated time."""
        self._now += dt * 1000.0
        if self.config.auto_tasks_s > 0:
            self._auto_left -= dt
            if self._auto_left <= 0:
                self._auto_left = self.config.auto_tasks_s
                self._create_auto_task()
        self._assign_queued()
        for robot in self.robots():
            if not robot.stopped:
                self._step_robot(robot, dt)
        self._step_devices(dt)
        for book in self.fleet_logs.values():
            update = book.flush()
            if update is not None:
                self._out.append((IngestType.FLEET_LOG, update))

    def drain(self) -> list[Outgoing]:
        """Task states and logs, fleet logs and device changes since the last call."""
        out, self._out = self._out, []
        return out

    def drain_incidents(self) -> list[Incident]:
        """Robots stuck or failing a task since the last call (the latest :data:`INCIDENTS_KEPT`)."""
        found = list(self._incidents)
        self._incidents.clear()
        return found

    def _incident(self, robot: SimRobot, task_id: str, what: str) -> None:
        self._incidents.append(
            Incident(
                robot.fleet, robot.name, task_id, self.now_ms, what, robot.level, robot.x, robot.y
            )
        )

    # ---------------------------------------------------------------- states

    def robots(self) -> Iterable[SimRobot]:
        for fleet in self.fleets.values():
            yield from fleet.values()

    def robot(self, fleet: str, name: str) -> SimRobot:
        try:
            return self.fleets[fleet][name]
        except KeyError:
            raise CommandRejected(f"no robot {name!r} in fleet {fleet!r}") from None

    def fleet_states(self) -> list[dict[str, Any]]:
        """Each fleet's fleet_state; stopped robots are left out, as if gone silent."""
        now = self.now_ms
        return [
            {
                "name": name,
                "robots": {r.name: r.state(now) for r in robots.values() if not r.stopped},
            }
            for name, robots in self.fleets.items()
        ]

    def device_states(self) -> list[Outgoing]:
        now = self.now_ms
        return (
            [(IngestType.DOOR_STATE, d.state(now)) for d in self.doors.values()]
            + [(IngestType.LIFT_STATE, lift.state(now)) for lift in self.lifts.values()]
            + [(IngestType.DISPENSER_STATE, d.state(now)) for d in self.dispensers.values()]
            + [(IngestType.INGESTOR_STATE, i.state(now)) for i in self.ingestors.values()]
        )

    @property
    def building_map(self) -> BuildingMap:
        if self._map is None:
            self._map = self.site.to_building_map()
        return self._map

    def snapshot(self) -> list[Outgoing]:
        """What a fleet adapter re-sends on (re)connect: map, devices, every known task."""
        now = self.now_ms
        out: list[Outgoing] = [(IngestType.BUILDING_MAP, self.building_map.model_dump(mode="json"))]
        out += self.device_states()
        out += [(IngestType.TASK_STATE, t.state(now)) for t in self.tasks.values()]
        return out

    # -------------------------------------------------------------- commands

    def dispatch(
        self, task_request: dict[str, Any], task_id: str | None = None, *, robot: str | None = None
    ) -> dict[str, Any]:
        """Accept an RMF task request (bare or wrapped in a dispatch_task_request).

        ``robot`` (with ``fleet_name`` in the request) makes it a robot task.
        Returns the new task_state; the task is assigned at once to the nearest
        eligible robot, or stays queued until one is free.
        """
        request = task_request.get("request", task_request)
        if not isinstance(request, dict):
            raise CommandRejected("request must be an object")
        category = request.get("category", "task")
        task_id = task_id or f"{category}.dispatch-{uuid.uuid4().hex[:12]}"
        if task_id in self.tasks:
            raise CommandRejected(f"task {task_id!r} already exists")
        task = plan_task(self.site, task_id, request, self.now_ms)
        if task.fleet and task.fleet not in self.fleets:
            raise CommandRejected(f"no fleet {task.fleet!r}; fleets are {list(self.fleets)}")
        if robot is not None:
            if not task.fleet:
                raise CommandRejected("a robot task needs fleet_name")
            self.robot(task.fleet, robot)
            task.robot = robot
        self.tasks[task_id] = task
        self._forget_old_tasks()
        self._assign(task)
        self._publish_task(task)
        return task.state(self.now_ms)

    def cancel(self, task_id: str, labels: Iterable[str] = ()) -> dict[str, Any]:
        return self._stop(task_id, "canceled", "cancellation", list(labels))

    def kill(self, task_id: str, labels: Iterable[str] = ()) -> dict[str, Any]:
        return self._stop(task_id, "killed", "killed", list(labels))

    def interrupt(self, task_id: str, labels: Iterable[str] = ()) -> str:
        """Pause a task where it is (its robot holds still); returns the token that resumes it."""
        task = self._task(task_id)
        token = task.interrupt(self.now_ms, list(labels))
        self._publish_task(task)
        return token

    def resume(self, task_id: str, tokens: Iterable[str], labels: Iterable[str] = ()) -> None:
        task = self._task(task_id)
        task.resume(self.now_ms, list(tokens), list(labels))
        self._publish_task(task)

    def skip_phase(self, task_id: str, phase_id: int, labels: Iterable[str] = ()) -> str:
        """Skip a phase (the running one at the next step); returns the token that undoes it."""
        task = self._task(task_id)
        token = task.request_skip(self.now_ms, phase_id, list(labels))
        self._publish_task(task)
        return token

    def undo_skip_phase(
        self, task_id: str, tokens: Iterable[str], labels: Iterable[str] = ()
    ) -> None:
        task = self._task(task_id)
        task.undo_skip(self.now_ms, list(tokens), list(labels))
        self._publish_task(task)

    def rewind(self, task_id: str, phase_id: int) -> None:
        """Run a task again from an earlier phase; its robot plans again from where it is."""
        task = self._task(task_id)
        task.rewind(self.now_ms, phase_id)
        bot = self._robot_of(task)
        if bot is not None:
            self._leave_step(task, bot)
        self._publish_task(task)

    def _task(self, task_id: str) -> SimTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise CommandRejected(f"no task {task_id!r}")
        return task

    def request_door(self, name: str, mode: int) -> None:
        """A door request: hold the door open (mode 2) or let it close (mode 0)."""
        door = self.doors.get(name)
        if door is None:
            raise CommandRejected(f"no door {name!r}; doors are {sorted(self.doors)}")
        door.held_open = mode == DOOR_OPEN

    def request_lift(self, name: str, destination: str, request_type: int) -> None:
        """A lift request (rmf_lift_msgs/LiftRequest): a session takes the lift to
        ``destination``, after the riders queued before it; ending the session frees it."""
        lift = self.lifts.get(name)
        if lift is None:
            raise CommandRejected(f"no lift {name!r}; lifts are {sorted(self.lifts)}")
        lift.cancel(OPERATOR_SESSION)
        if request_type == LIFT_END_SESSION:
            return
        if destination not in lift.floors:
            raise CommandRejected(f"lift {name!r} serves {lift.floors}, not {destination!r}")
        lift.request(OPERATOR_SESSION, lift.current_floor, destination)

    def set_robot_stopped(self, fleet: str, robot: str, stopped: bool) -> None:
        """Freeze a robot and drop it from fleet states (the hub then sees it go offline)."""
        bot = self.robot(fleet, robot)
        if stopped and not bot.stopped:
            self._incident(bot, "", "stuck")
        bot.stopped = stopped

    def inject_fault(self, fleet: str, robot: str, detail: str) -> None:
        """Put a robot in error (with an issue); its task fails."""
        bot = self.robot(fleet, robot)
        bot.status = "error"
        bot.issues = [{"category": "fault", "detail": detail}]
        self.fleet_logs[fleet].add(self.now_ms, f"Fault: {detail}", robot=robot, tier="error")
        task = self.tasks.get(bot.task_id)
        if task is not None and not task.terminal:
            task.end(self.now_ms, "failed", f"[robot:{robot}] reported a fault: {detail}", "error")
            self._publish_task(task)
            self._incident(bot, task.id, "fault")
        self._release(bot, status="error")

    def clear_fault(self, fleet: str, robot: str) -> None:
        bot = self.robot(fleet, robot)
        bot.issues = []
        if bot.status == "error":
            bot.status = "idle"
            self.fleet_logs[fleet].add(self.now_ms, "Fault cleared", robot=robot)

    def commission(self, fleet: str, robot: str, on: bool, *, unstarted: str = "complete") -> None:
        """(De)commission a robot; ``unstarted`` is what becomes of its task if not begun yet:
        ``complete`` (keep it), ``reassign`` (back to the queue) or ``cancel``."""
        self._commission(fleet, robot, on)
        bot = self.robot(fleet, robot)
        task = self.tasks.get(bot.task_id)
        if task is None or task.status != "queued" or unstarted == "complete":
            return
        if unstarted == "cancel":
            self.cancel(task.id, ["decommissioned"])
            return
        self._release(bot)
        task.robot = ""
        task.dispatch_status = "queued"
        self._publish_task(task)

    def _commission(self, fleet: str, robot: str, on: bool) -> None:
        bot = self.robot(fleet, robot)
        if bot.commissioned != on:
            bot.commissioned = on
            text = "Recommissioned" if on else "Decommissioned"
            self.fleet_logs[fleet].add(self.now_ms, text, robot=robot)

    def _stop(self, task_id: str, status: str, kind: str, labels: list[str]) -> dict[str, Any]:
        task = self.tasks.get(task_id)
        if task is None:
            raise CommandRejected(f"no task {task_id!r}")
        if task.terminal:
            raise CommandRejected(f"task {task_id!r} already {task.status}")
        now = self.now_ms
        task.stop_request = (kind, RequestInfo(now, labels))
        bot = self._robot_of(task)
        verb = "canceled" if status == "canceled" else "killed"
        task.end(now, status, f"Task {verb} by request", "warning")
        if task.dispatch_status == "queued":
            task.dispatch_status = "canceled_in_flight"
        if bot is not None and bot.task_id == task.id:
            self._release(bot)
        self._publish_task(task)
        return task.state(now)

    # ---------------------------------------------------------------- tasks

    def _robot_of(self, task: SimTask) -> SimRobot | None:
        if not task.robot:
            return None
        return self.fleets[task.fleet].get(task.robot)

    def _eligible(self, robot: SimRobot) -> bool:
        if robot.stopped or not robot.commissioned or robot.task_id:
            return False
        if robot.status == "idle":
            return robot.battery >= robot.profile.recharge_below and not robot.charging_errand
        return robot.status == "charging" and robot.battery >= CHARGING_ELIGIBLE_BATTERY

    def _assign_queued(self) -> None:
        for task in list(self.tasks.values()):
            if task.dispatch_status == "queued":
                self._assign(task)

    def _assign(self, task: SimTask) -> None:
        """Give ``task`` to the nearest eligible robot (of its fleet, if it names one)."""
        if task.robot:
            candidates = [self.fleets[task.fleet][task.robot]]
        else:
            fleets = [task.fleet] if task.fleet else list(self.fleets)
            candidates = [r for f in fleets for r in self.fleets[f].values()]
        candidates = [r for r in candidates if self._eligible(r) and self._can_afford(r, task)]
        if not candidates:
            return
        first = task.phases[0].steps[0].place
        bot = min(candidates, key=lambda r: self.navigator.distance(self._start_vertex(r), first))
        task.assign(bot.fleet, bot.name, self._step_estimates(task, bot))
        bot.task_id = task.id
        bot.charging_errand = False
        bot.route.clear()
        bot.status = "working"

    def _start_vertex(self, robot: SimRobot) -> str:
        vertex = self.site.vertices[robot.vertex]
        if (vertex.x, vertex.y, vertex.level) == (robot.x, robot.y, robot.level):
            return vertex.name
        return self.navigator.nearest_vertex(robot.level, robot.x, robot.y).name

    def _step_metres(self, task: SimTask, robot: SimRobot) -> list[float]:
        """Metres each step drives, from where the robot is (0 for hand-overs)."""
        at = self._start_vertex(robot)
        metres = []
        for phase in task.phases:
            for step in phase.steps:
                if step.kind == "go":
                    metres.append(self.navigator.distance(at, step.place))
                    at = step.place
                elif step.kind == "clean":
                    metres.append(_pattern_length(self.site.vertices[step.place]))
                else:
                    metres.append(0.0)
        return metres

    def _can_afford(self, robot: SimRobot, task: SimTask) -> bool:
        """Battery-aware assignment, as RMF's planner does: never strand a robot mid-task."""
        need = sum(self._step_metres(task, robot)) * robot.profile.drain_per_m
        return robot.battery - need >= robot.profile.task_reserve

    def _step_estimates(self, task: SimTask, robot: SimRobot) -> list[int]:
        speed = robot.profile.speed_mps
        steps = [s for phase in task.phases for s in phase.steps]
        return [
            int(step.seconds * 1000)
            if step.kind == "handle"
            else int(m / (speed * (CLEAN_SPEED_FACTOR if step.kind == "clean" else 1.0)) * 1000)
            for step, m in zip(steps, self._step_metres(task, robot), strict=True)
        ]

    def _progress(self, task: SimTask, robot: SimRobot) -> None:
        """Run the task's steps as far as the robot and devices allow in this step."""
        now = self.now_ms
        before = task.status
        changed = False
        if task.status == "queued":
            task.begin(now)
        while task.status == "underway":
            if task.phase.skip_requested:
                self._leave_step(task, robot)
                task.skip_running_phase(now)
                changed = True
                continue
            if task.step.status == "standby":
                self._start_step(task, robot)
                changed = True
            done = self._step_done(task, robot)
            if done is None:
                break
            task.finish_step(now, done)
            changed = True
        if task.terminal:
            self._release(robot)
        if changed or task.status != before:
            self._publish_task(task)

    def _start_step(self, task: SimTask, robot: SimRobot) -> None:
        step, now = task.step, self.now_ms
        if step.kind == "go":
            start = self._start_vertex(robot)
            robot.route.extend(Waypoint.of(v) for v in self.navigator.route(start, step.place))
            task.start_step(now, f"Moving towards [place:{step.place}] from [place:{start}]")
        elif step.kind == "handle":
            self._handler(step.handler).request(task.id, step.seconds)
            task.start_step(now, f"Requested [handler:{step.handler}]")
        else:
            zone = self.site.vertices[step.place]
            robot.route.extend(_pattern(zone))
            robot.speed_factor = CLEAN_SPEED_FACTOR
            task.start_step(now, f"Cleaning [zone:{step.place}]")

    def _step_done(self, task: SimTask, robot: SimRobot) -> str | None:
        """The log line that finishes the running step, or ``None`` while it runs."""
        step = task.step
        if step.kind == "go":
            return None if robot.route else f"Arrived at [place:{step.place}]"
        if step.kind == "clean":
            if robot.route:
                return None
            robot.speed_factor = 1.0
            return f"Finished cleaning [zone:{step.place}]"
        if not self._handler(step.handler).take_finished(task.id):
            return None
        if self._rng.random() < self.config.task_failure_probability:
            task.end(
                self.now_ms, "failed", f"[handler:{step.handler}] failed the hand-over", "error"
            )
            self._incident(robot, task.id, "hand-over failed")
            return None
        return f"[handler:{step.handler}] finished"

    def _leave_step(self, task: SimTask, robot: SimRobot) -> None:
        """Stop what the robot does for the running step (driving, a hand-over)."""
        robot.route.clear()
        robot.speed_factor = 1.0
        for phase in task.phases:
            for step in phase.steps:
                if step.kind == "handle":
                    self._handler(step.handler).abandon(task.id)

    def _handler(self, guid: str) -> SimHandler:
        return self.dispensers.get(guid) or self.ingestors[guid]

    def _release(self, robot: SimRobot, status: str = "idle") -> None:
        """Free a robot from its task: stop driving, leave the lift queue and handlers."""
        for lift in self.lifts.values():
            lift.cancel(f"{robot.fleet}/{robot.name}")
        task = self.tasks.get(robot.task_id)
        if task is not None:
            for phase in task.phases:
                for step in phase.steps:
                    if step.kind == "handle":
                        self._handler(step.handler).abandon(task.id)
        robot.route.clear()
        robot.speed_factor = 1.0
        robot.task_id = ""
        robot.status = status

    def _publish_task(self, task: SimTask) -> None:
        self._out.append((IngestType.TASK_STATE, task.state(self.now_ms)))
        log = task.log.flush()
        if log is not None:
            self._out.append((IngestType.TASK_LOG, log))

    def _forget_old_tasks(self) -> None:
        finished = [t for t in self.tasks.values() if t.terminal]
        for task in finished[: max(0, len(finished) - self.config.retain_finished_tasks)]:
            del self.tasks[task.id]

    def _create_auto_task(self) -> None:
        """A random patrol, delivery or clean, unless the backlog is already long."""
        backlog = sum(1 for t in self.tasks.values() if t.dispatch_status == "queued")
        if backlog >= max(1, self.config.robots // 2):
            return
        rng = self._rng
        category = rng.choice(("patrol", "delivery", "clean"))
        if category == "patrol":
            spots = [v.name for v in self.site.places() if not (v.lift or v.charger)]
            description: dict[str, Any] = {
                "places": rng.sample(spots, rng.randint(2, 3)),
                "rounds": rng.randint(1, 2),
            }
        elif category == "delivery":
            pickup = rng.choice(self.site.dispensers)
            dropoff = rng.choice(self.site.ingestors)
            description = {
                "pickup": {
                    "place": pickup.name,
                    "handler": pickup.dispenser,
                    "payload": [{"sku": "coke", "quantity": 1}],
                },
                "dropoff": {
                    "place": dropoff.name,
                    "handler": dropoff.ingestor,
                    "payload": [{"sku": "coke", "quantity": 1}],
                },
            }
        else:
            description = {"zone": rng.choice(self.site.clean_zones).name}
        self.dispatch(
            {
                "category": category,
                "description": description,
                "fleet_name": rng.choice(list(self.fleets)),
                "requester": "simulator",
                "labels": ["auto"],
                "unix_millis_request_time": self.now_ms,
            }
        )

    # --------------------------------------------------------------- robots

    def _step_robot(self, robot: SimRobot, dt: float) -> None:
        if robot.status == "error":
            robot.drain(0.0, dt)
            return
        task = self.tasks.get(robot.task_id)
        if task is not None and task.paused:
            robot.drain(0.0, dt)
            return
        if robot.needs_lift:
            self._ride_lift(robot)
        driven = robot.advance(dt)
        robot.drain(driven, dt)
        task = self.tasks.get(robot.task_id)
        if task is not None:
            self._progress(task, robot)
        else:
            self._look_after_battery(robot, dt)
        if robot.battery <= 0.0 and robot.status != "error":
            self.inject_fault(robot.fleet, robot.name, "battery depleted")

    def _ride_lift(self, robot: SimRobot) -> None:
        cabin = self.site.vertices[robot.vertex]
        lift = self.lifts[cabin.lift]
        rider = f"{robot.fleet}/{robot.name}"
        target = robot.route[0]
        if lift.request(rider, robot.level, target.level):
            task = self.tasks.get(robot.task_id)
            if task is not None:
                task.note(self.now_ms, f"Taking [lift:{cabin.lift}] to [level:{target.level}]")
        elif lift.take_arrival(rider):
            robot.level, robot.x, robot.y = target.level, target.x, target.y
            robot.vertex = target.vertex
            robot.route.popleft()

    def _look_after_battery(self, robot: SimRobot, dt: float) -> None:
        """Idle robots go charge when low, charge at a charger, and stop when full."""
        profile, log = robot.profile, self.fleet_logs[robot.fleet]
        at_charger = not robot.route and self.site.vertices[robot.vertex].charger
        if robot.charging_errand:
            if robot.route:
                return
            if robot.status != "charging":
                robot.status = "charging"
                log.add(
                    self.now_ms, f"Started charging at [place:{robot.vertex}]", robot=robot.name
                )
            robot.charge(dt)
            if robot.battery >= profile.charged_at:
                robot.charging_errand = False
                robot.status = "idle"
                log.add(self.now_ms, f"Finished charging at {robot.battery:.0%}", robot=robot.name)
        elif robot.battery < profile.recharge_below and not robot.route:
            charger = self._nearest_charger(robot)
            robot.charging_errand = True
            if not at_charger:
                robot.status = "working"
                robot.route.extend(
                    Waypoint.of(v) for v in self.navigator.route(self._start_vertex(robot), charger)
                )
                log.add(
                    self.now_ms,
                    f"Battery at {robot.battery:.0%}: going to [place:{charger}]",
                    robot=robot.name,
                    tier="warning",
                )
        elif robot.status != "idle" and not robot.route:
            robot.status = "idle"

    def _nearest_charger(self, robot: SimRobot) -> str:
        start = self._start_vertex(robot)
        return min(
            (v.name for v in self.site.chargers), key=lambda c: self.navigator.distance(start, c)
        )

    # -------------------------------------------------------------- devices

    def _step_devices(self, dt: float) -> None:
        now = self.now_ms
        moving = [r for r in self.robots() if not r.stopped]
        for door in self.doors.values():
            near = any(door.is_near(r.level, r.x, r.y) for r in moving)
            if door.step(dt, near):
                self._out.append((IngestType.DOOR_STATE, door.state(now)))
        for lift in self.lifts.values():
            if lift.step(dt):
                self._out.append((IngestType.LIFT_STATE, lift.state(now)))
        for kind, handlers in (
            (IngestType.DISPENSER_STATE, self.dispensers),
            (IngestType.INGESTOR_STATE, self.ingestors),
        ):
            for handler in handlers.values():
                if handler.step(dt):
                    self._out.append((kind, handler.state(now)))


def _pattern(zone: Vertex) -> list[Waypoint]:
    sweep = [Waypoint(zone.level, zone.x + dx, zone.y + dy) for dx, dy in CLEAN_PATTERN]
    return [*sweep, Waypoint.of(zone)]


def _pattern_length(zone: Vertex) -> float:
    points = [(zone.x, zone.y)] + [(w.x, w.y) for w in _pattern(zone)]
    return sum(math.dist(a, b) for a, b in itertools.pairwise(points))
