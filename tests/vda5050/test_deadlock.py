"""Deadlocks: robots that wait on each other in a cycle are detected and let through, on small maps."""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client import REGISTRY

from tests.vda5050.loopback import TOPICS, Loopback, occupies, patrol
from vda5050.deadlock import cycles, stuck
from vda5050.graph import GraphVertex, Lane, NavGraph
from vda5050.master import MasterConfig
from vda5050.orders import ReleasePolicy
from vda5050.traffic import GiveWay, Traffic, Wait, node_key


def nav_graph(places: dict[str, tuple[float, float]], lanes: list[str]) -> NavGraph:
    """Places by name and position; ``lanes`` as ``"a-b"``, both ways."""
    vertices = [GraphVertex(name, "L1", x, y, place=True) for name, (x, y) in places.items()]
    both: list[Lane] = []
    for lane in lanes:
        a, b = lane.split("-")
        length = math.dist(places[a], places[b])
        both += [Lane(f"{a}-{b}", a, b, length), Lane(f"{b}-{a}", b, a, length)]
    return NavGraph(vertices, both)


def loopback(tmp_path: Path, graph: NavGraph, starts: list[str]) -> Loopback:
    config = MasterConfig(
        topics=TOPICS,
        vehicles={},
        default_fleet="vda",
        release=ReleasePolicy(release_nodes=1),
        blocked_alert_s=30.0,
    )
    return Loopback(tmp_path / "j.sqlite3", config=config, nav_graph=graph, starts=starts)


def deadlocks(resolution: str) -> float:
    return (
        REGISTRY.get_sample_value("fleethub_vda5050_deadlocks_total", {"resolution": resolution})
        or 0.0
    )


def safe(loop: Loopback) -> None:
    """Every vehicle stands still on a node (or a lane) it holds, and no two hold one resource."""
    traffic = loop.master.traffic
    owners = traffic.owner
    for serial, vehicle in loop.vehicles.items():
        if not vehicle.driving:
            assert owners.get(occupies(vehicle, loop.graph)) == f"vda/{serial}", serial
    seen: set[str] = set()
    for robot in [f"vda/{serial}" for serial in loop.vehicles]:
        held = traffic.held(robot)
        assert not held & seen
        seen |= held


def completed(loop: Loopback, *tasks: str) -> bool:
    safe(loop)
    return all(loop.status(task) == "completed" for task in tasks)


def test_a_cycle_of_the_wait_for_graph_is_found_in_wait_order() -> None:
    waits = {
        "a": Wait("node:q", "b", 0),
        "b": Wait("node:r", "c", 0),
        "c": Wait("node:p", "a", 0),
        "d": Wait("node:p", "a", 0),
    }
    assert cycles(waits) == [["a", "b", "c"]]


def test_a_robot_giving_way_closes_no_cycle() -> None:
    waits = {"a": Wait("node:b", "b", 0, giving_way=True), "b": Wait("node:a", "a", 0)}
    assert cycles(waits) == []


def test_a_robot_that_reached_its_side_node_and_is_waited_on_there_closes_a_cycle() -> None:
    traffic = Traffic()
    traffic.follow("other", ["c", "d", "side"])
    traffic.follow("yielding", ["d", "side", "d", "f"])
    traffic.claim("yielding", 1, 0)
    traffic.replan("yielding", ["d", "side", "d", "f"], GiveWay(1, "other"))
    traffic.passed("yielding", 1)
    traffic.claim("yielding", 3, 1)
    traffic.claim("other", 2, 1)
    assert cycles(traffic.waits) == [["other", "yielding"]]


def corridor() -> NavGraph:
    """A single-lane corridor a to d with one side bay at b, and a dock off each end."""
    return nav_graph(
        {
            "west": (-5, 0),
            "a": (0, 0),
            "b": (10, 0),
            "c": (20, 0),
            "d": (30, 0),
            "east": (35, 0),
            "bay": (10, 5),
            "west_dock": (-5, 5),
            "east_dock": (35, 5),
        },
        ["west-a", "a-b", "b-c", "c-d", "d-east", "b-bay", "a-west_dock", "d-east_dock"],
    )


def test_two_robots_head_on_in_a_corridor_pass_once_one_yields_to_a_side_node(
    tmp_path: Path,
) -> None:
    loop = loopback(tmp_path, corridor(), ["west", "east"])
    before = deadlocks("yield")
    eastward = loop.dispatch(patrol("east_dock"), robot="v1")
    westward = loop.dispatch(patrol("west_dock"), robot="v2")
    loop.until(lambda: bool(cycles(loop.master.traffic.waits)) or completed(loop, eastward))
    loop.until(lambda: completed(loop, eastward, westward))
    assert deadlocks("yield") == before + 1
    logs = [e["text"] for log in loop.hub("task_log_update") for e in log.get("log", [])]
    assert any("yields at [place:bay]" in text for text in logs)


def test_a_cycle_of_three_robots_is_broken_by_rerouting_one(tmp_path: Path) -> None:
    graph = nav_graph(
        {
            "p": (0, 0),
            "q": (10, 0),
            "r": (5, 8),
            "sp": (-5, -3),
            "sq": (15, -3),
            "sr": (5, 13),
            "tp": (-5, 3),
            "tq": (15, 3),
            "tr": (10, 12),
            "bypass": (7, -12),
        },
        [
            "p-q",
            "q-r",
            "r-p",
            "sp-p",
            "sq-q",
            "sr-r",
            "tp-p",
            "tq-q",
            "tr-r",
            "p-bypass",
            "bypass-tq",
        ],
    )
    loop = loopback(tmp_path, graph, ["sp", "sq", "sr"])
    before = deadlocks("reroute")
    tasks = [
        loop.dispatch(patrol("tq"), robot="v1"),
        loop.dispatch(patrol("tr"), robot="v2"),
        loop.dispatch(patrol("tp"), robot="v3"),
    ]
    loop.until(lambda: completed(loop, *tasks))
    assert deadlocks("reroute") == before + 1
    taken = {n.nodeId for o in loop.orders("v1") for n in o.nodes if n.released}
    assert "bypass" in taken


def test_a_parked_robot_in_the_way_moves_aside(tmp_path: Path) -> None:
    graph = nav_graph(
        {"a": (0, 0), "b": (10, 0), "c": (20, 0), "niche": (10, 5)},
        ["a-b", "b-c", "b-niche"],
    )
    loop = loopback(tmp_path, graph, ["a", "b"])
    task = loop.dispatch(patrol("c"), robot="v1")
    loop.until(lambda: completed(loop, task))
    assert loop.vehicles["v2"].last_node_id == "niche"


def test_a_robot_held_back_past_the_threshold_has_a_traffic_blocked_issue(
    tmp_path: Path,
) -> None:
    graph = nav_graph(
        {"a": (0, 0), "b": (10, 0), "c": (20, 0), "niche": (10, 5)},
        ["a-b", "b-c", "b-niche"],
    )
    loop = loopback(tmp_path, graph, ["a", "b"])
    loop.vehicles["v2"].operating_mode = "MANUAL"
    loop.report("v2")
    task = loop.dispatch(patrol("c"), robot="v1")
    loop.run(40.0)
    assert loop.status(task) == "underway"
    issues = [
        issue
        for state in loop.hub("fleet_state_update")
        for issue in state["robots"].get("v1", {}).get("issues", [])
    ]
    assert {"category": "traffic_blocked", "detail": "waiting for v2 on node:b"} in issues
    loop.vehicles["v2"].operating_mode = "AUTOMATIC"
    loop.until(lambda: completed(loop, task))


def test_a_deadlock_with_no_way_out_counts_once_however_long_it_stands(tmp_path: Path) -> None:
    graph = nav_graph(
        {"west": (0, 0), "a": (10, 0), "b": (20, 0), "east": (30, 0)},
        ["west-a", "a-b", "b-east"],
    )
    loop = loopback(tmp_path, graph, ["west", "east"])
    before = deadlocks("unresolved")
    loop.dispatch(patrol("east"), robot="v1")
    loop.dispatch(patrol("west"), robot="v2")
    loop.until(lambda: bool(cycles(loop.master.traffic.waits)))
    loop.run(10.0)
    assert cycles(loop.master.traffic.waits)
    assert deadlocks("unresolved") == before + 1


def test_a_parked_robot_with_nowhere_to_move_aside_counts_once(tmp_path: Path) -> None:
    graph = nav_graph({"a": (0, 0), "b": (10, 0), "c": (20, 0)}, ["a-b", "b-c"])
    loop = loopback(tmp_path, graph, ["a", "c"])
    before = deadlocks("unresolved")
    task = loop.dispatch(patrol("c"), robot="v1")
    loop.until(lambda: "vda/v1" in loop.master.traffic.waits)
    loop.run(10.0)
    assert loop.status(task) == "underway"
    assert deadlocks("unresolved") == before + 1


def test_a_robot_held_back_takes_a_free_way_about_as_short(tmp_path: Path) -> None:
    graph = nav_graph(
        {"a": (0, 0), "b": (10, 0), "c": (20, 0), "d": (0, 2), "e": (10, 2), "f": (20, 2)},
        ["a-b", "b-c", "d-e", "e-f", "a-d", "b-e", "c-f"],
    )
    loop = loopback(tmp_path, graph, ["a", "b"])
    loop.vehicles["v2"].operating_mode = "MANUAL"
    loop.report("v2")
    task = loop.dispatch(patrol("c"), robot="v1")
    loop.until(lambda: completed(loop, task))
    assert loop.vehicles["v2"].last_node_id == "b"
    taken = {n.nodeId for o in loop.orders("v1") for n in o.nodes if n.released}
    assert {"d", "e", "f"} <= taken


def test_two_robots_that_meet_head_on_again_take_turns_to_yield(tmp_path: Path) -> None:
    loop = loopback(tmp_path, corridor(), ["west", "east"])
    first = [
        loop.dispatch(patrol("east_dock"), robot="v1"),
        loop.dispatch(patrol("west_dock"), robot="v2"),
    ]
    loop.until(lambda: completed(loop, *first))
    again = [
        loop.dispatch(patrol("west_dock"), robot="v1"),
        loop.dispatch(patrol("east_dock"), robot="v2"),
    ]
    loop.until(lambda: completed(loop, *again))
    yielding = [
        e["text"].rpartition(": ")[2].partition(" yields at")[0]
        for log in loop.hub("task_log_update")
        for e in log.get("log", [])
        if e["text"].startswith("Deadlock between") and " yields at " in e["text"]
    ]
    assert yielding == ["[robot:v1]", "[robot:v2]"]


def test_a_new_route_goes_around_a_held_node_when_another_way_is_as_short(
    tmp_path: Path,
) -> None:
    """Two ways of one length from a to d: the one through b, where v2 stands, is priced out."""
    graph = nav_graph(
        {"a": (0, 0), "b": (10, 0), "c": (0, 10), "d": (10, 10), "e": (20, 0)},
        ["a-b", "a-c", "b-d", "c-d", "b-e"],
    )
    for parked, way in (("b", ["a", "c", "d"]), ("c", ["a", "b", "d"])):
        loop = loopback(tmp_path / parked, graph, ["a", parked])
        loop.vehicles["v2"].operating_mode = "MANUAL"
        loop.report("v2")
        task = loop.dispatch(patrol("d"), robot="v1")
        loop.until(lambda: completed(loop, task))  # noqa: B023
        assert [n.nodeId for n in loop.orders("v1")[0].nodes] == way


def test_a_deadlock_whose_way_out_a_driving_robot_holds_is_resolved_once_it_passed(
    tmp_path: Path,
) -> None:
    """v1 and v2 meet head-on in a corridor; the only side node, s, is v3's as it drives
    through: not an unresolved deadlock, v2 yields there once v3 has passed (the 50-vehicle
    bench's, counted unresolved on the tick it formed though resolved 2.5 s later)."""
    graph = nav_graph(
        {
            "west": (0, 0),
            "a": (10, 0),
            "b": (20, 0),
            "east": (30, 0),
            "s": (20, 10),
            "n": (20, 30),
            "e2": (30, 10),
        },
        ["west-a", "a-b", "b-east", "b-s", "n-s", "s-e2"],
    )
    loop = loopback(tmp_path, graph, ["west", "east", "n"])
    before = {r: deadlocks(r) for r in ("yield", "unresolved")}
    tasks = [
        loop.dispatch(patrol("e2"), robot="v3"),
        loop.dispatch(patrol("east"), robot="v1"),
        loop.dispatch(patrol("west"), robot="v2"),
    ]
    loop.until(lambda: bool(cycles(loop.master.traffic.waits)))
    assert loop.master.traffic.owner[node_key("s")] == "vda/v3"
    loop.until(lambda: completed(loop, *tasks))
    assert deadlocks("unresolved") == before["unresolved"]
    assert deadlocks("yield") == before["yield"] + 1


def test_a_deadlock_is_stuck_only_if_no_way_out_opens_once_the_robots_driving_on_pass() -> None:
    """A parked robot whose only side node a driving robot holds gets out a moment later."""
    graph = nav_graph(
        {"a": (0, 0), "b": (10, 0), "c": (20, 0), "s": (20, 10), "y": (30, 10)},
        ["a-b", "b-c", "c-s", "s-y"],
    )
    traffic = Traffic()
    traffic.stand("parked", "c")
    traffic.follow("waiter", ["a", "b", "c"])
    traffic.claim("waiter", 2, 0)
    traffic.follow("driver", ["s", "y"])
    traffic.claim("driver", 1, 0)
    ways = {"parked": ("c", {"a", "b", "c"})}
    assert not stuck(graph, traffic, ways, {"driver"})
    assert stuck(graph, traffic, ways, set())
