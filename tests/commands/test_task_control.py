"""Steering tasks and robots through REST: the simulator acts on each command as RMF would."""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import pytest

from simulator import SimulatorService
from simulator.tasks import SimTask
from tests.commands.conftest import FAR_PLACE, dispatch_body
from tests.conftest import eventually

FLEET, ROBOT = "tinyRobot", "tinyRobot1"
REWIND_AWAY_M = 10.0
"""How far the robot has left room_102 before the test rewinds to it: a second's drive back."""


async def _post(http: aiohttp.ClientSession, path: str, body: Any = None) -> tuple[int, Any]:
    async with http.post(path, json=body) as answer:
        return answer.status, await answer.json()


async def _dispatch(http: aiohttp.ClientSession, site: SimulatorService, *places: str) -> SimTask:
    body = dispatch_body()
    body["request"]["description"] = {"places": list(places or [FAR_PLACE])}
    status, answer = await _post(http, "/tasks/dispatch_task", body)
    assert status == 200, answer
    return site.simulation.tasks[answer["state"]["booking"]["id"]]


async def _simulated(site: SimulatorService, seconds: float) -> None:
    """Until the simulation has run ``seconds`` of its time: several steps, however slow the machine."""
    until = site.simulation.now_ms + seconds * 1000
    await eventually(lambda: site.simulation.now_ms >= until, timeout=10)


async def _underway(task: SimTask, phase: int = 0) -> None:
    await eventually(lambda: task.status == "underway" and task.active == phase, timeout=10)


async def test_interrupt_pauses_the_robot_and_resume_lets_the_task_finish(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    task = await _dispatch(http, site)
    await _underway(task)
    robot = site.simulation.fleets[FLEET][ROBOT]

    status, answer = await _post(
        http, "/tasks/interrupt_task", {"type": "interrupt_task_request", "task_id": task.id}
    )
    assert (status, answer["success"]) == (200, True)
    held = (robot.x, robot.y)
    await _simulated(site, 0.3)  # a paused robot does not move
    assert (robot.x, robot.y) == held
    assert answer["token"] in task.state(0)["interruptions"]

    status, answer = await _post(
        http,
        "/tasks/resume_task",
        {"type": "resume_task_request", "for_task": task.id, "for_tokens": [answer["token"]]},
    )
    assert (status, answer) == (200, {"success": True})
    await eventually(lambda: task.status == "completed", timeout=10)


async def test_resuming_with_an_unknown_token_is_refused_by_rmf(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    task = await _dispatch(http, site)

    status, answer = await _post(
        http,
        "/tasks/resume_task",
        {"type": "resume_task_request", "for_task": task.id, "for_tokens": ["nope"]},
    )

    assert status == 200  # rmf-web passes RMF's refusal through as a 200
    assert answer["success"] is False
    assert "no open interruption" in answer["errors"][0]["detail"]


async def test_skipping_the_running_phase_moves_the_task_to_the_next(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    task = await _dispatch(http, site, FAR_PLACE, "lobby")
    await _underway(task)

    status, answer = await _post(
        http, "/tasks/skip_phase", {"type": "skip_phase_request", "task_id": task.id, "phase_id": 1}
    )

    assert (status, answer["success"]) == (200, True)
    assert answer["token"]
    await eventually(lambda: task.active == 1, timeout=5)
    assert task.phases[0].steps[0].status == "skipped"
    assert answer["token"] in task.state(0)["phases"]["1"]["skip_requests"]
    await eventually(lambda: task.status == "completed", timeout=10)


async def test_an_undone_skip_leaves_the_phase_to_run(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    # Phase 1 goes to the far place first, so phase 2 has not started when the skip is undone
    task = await _dispatch(http, site, FAR_PLACE, "pantry")
    _, skip = await _post(
        http, "/tasks/skip_phase", {"type": "skip_phase_request", "task_id": task.id, "phase_id": 2}
    )

    status, answer = await _post(
        http,
        "/tasks/undo_skip_phase",
        {"type": "undo_phase_skip_request", "for_task": task.id, "for_tokens": [skip["token"]]},
    )

    assert (status, answer) == (200, {"success": True})
    await eventually(lambda: task.status == "completed", timeout=30)
    assert task.phases[1].steps[0].status == "completed"


async def test_rewinding_runs_an_earlier_phase_again(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    task = await _dispatch(http, site, FAR_PLACE, "lobby")
    await _underway(task, phase=1)  # phase 1 (room_102) is done
    # Rewound while still at room_102, phase 1 would be done again in the next step.
    far = next(place for place in site.simulation.site.places() if place.name == FAR_PLACE)
    robot = site.simulation.fleets[FLEET][ROBOT]
    await eventually(lambda: math.dist((robot.x, robot.y), (far.x, far.y)) > REWIND_AWAY_M)

    status, answer = await _post(
        http,
        "/tasks/rewind_task",
        {"type": "rewind_task_request", "task_id": task.id, "phase_id": 1},
    )

    assert (status, answer) == (200, {"success": True})
    assert task.active == 0
    await eventually(lambda: task.status == "completed", timeout=15)


async def test_task_discovery_lists_what_the_fleet_takes(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    status, answer = await _post(http, "/tasks/task_discovery", {"type": "task_discovery_request"})

    assert status == 200
    assert answer["type"] == "task_discovery_update"
    assert answer["data"]["fleet_name"] == FLEET
    categories = {task["category"] for task in answer["data"]["tasks"]}
    assert categories == {"patrol", "delivery", "clean"}


async def _fleet_reported(http: aiohttp.ClientSession) -> None:
    async def reported() -> bool:
        async with http.get(f"/fleets/{FLEET}/state") as answer:
            return answer.status == 200

    await eventually(reported)


async def test_a_decommissioned_robot_gets_no_tasks_until_recommissioned(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    await _fleet_reported(http)
    query = f"robot_name={ROBOT}&reassign_tasks=true&allow_idle_behavior=false"

    status, answer = await _post(http, f"/fleets/{FLEET}/decommission?{query}")
    assert status == 200, answer
    assert answer["commission"] == {"success": True}
    task = await _dispatch(http, site, "lobby")
    await _simulated(site, 0.3)  # steps in which the robot could have taken it
    assert (task.status, task.robot) == ("queued", "")

    status, answer = await _post(http, f"/fleets/{FLEET}/recommission?robot_name={ROBOT}")
    assert status == 200, answer
    await eventually(lambda: task.robot == ROBOT, timeout=5)


async def test_decommissioning_a_robot_never_seen_is_404(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    await _fleet_reported(http)
    query = "robot_name=ghost&reassign_tasks=false&allow_idle_behavior=false"

    status, answer = await _post(http, f"/fleets/{FLEET}/decommission?{query}")

    assert status == 404
    assert answer["commission"]["errors"][0]["detail"] == f"Robot ghost not found in fleet {FLEET}"
    assert site.commands.requests == {}


INVALID = [
    ("/tasks/interrupt_task", {"type": "interrupt_task_request"}, ["body", "task_id"]),
    (
        "/tasks/resume_task",
        {"type": "resume_task_request", "for_task": "t", "for_tokens": []},
        ["body", "for_tokens"],
    ),
    (
        "/tasks/rewind_task",
        {"type": "rewind_task_request", "task_id": "t", "phase_id": -1},
        ["body", "phase_id"],
    ),
    (
        "/tasks/skip_phase",
        {"type": "skip_phase_request", "task_id": "t", "phase_id": "1"},
        ["body", "phase_id"],
    ),
    (
        "/tasks/undo_skip_phase",
        {"type": "undo_skip_phase_request", "for_task": "t", "for_tokens": ["a"]},
        ["body", "type"],
    ),
    ("/tasks/task_discovery", {}, ["body", "type"]),
    ("/fleets/f/decommission?robot_name=r", None, ["query", "reassign_tasks"]),
    ("/fleets/f/recommission", None, ["query", "robot_name"]),
]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    INVALID,
    ids=[f"{p}:{'.'.join(map(str, loc))}" for p, _, loc in INVALID],
)
async def test_an_invalid_request_is_a_422_naming_the_field(
    http: aiohttp.ClientSession, path: str, body: Any, loc: list[str]
) -> None:
    status, answer = await _post(http, path, body)

    assert status == 422
    assert loc in [error["loc"] for error in answer["detail"]]
