"""Idle vehicles return to a parking spot or charger by policy; queued tasks re-planned by a setting."""

from __future__ import annotations

from pathlib import Path

from tests.vda5050.loopback import TOPICS, Loopback, patrol
from tests.vda5050.test_deadlock import nav_graph
from vda5050.idle import IdleMode, IdlePolicy
from vda5050.master import MasterConfig
from vda5050.tasks import VdaTask


def with_idle(tmp_path: Path, mode: IdleMode, vehicles: int = 2) -> Loopback:
    config = MasterConfig(
        topics=TOPICS, vehicles={}, default_fleet="vda", idle=IdlePolicy(mode, after_s=10.0)
    )
    return Loopback(tmp_path / "j.sqlite3", config=config, vehicles=vehicles)


def errands(loop: Loopback, category: str) -> list[tuple[str, str]]:
    return [
        (t.robot, t.steps[0].spec.place)
        for t in loop.master.tasks.values()
        if t.category == category
    ]


def test_an_idle_vehicle_returns_to_the_nearest_parking_spot_under_the_park_policy(
    tmp_path: Path,
) -> None:
    loop = with_idle(tmp_path, "park", vehicles=1)
    task = loop.dispatch(patrol("room_102"), robot="v1")
    loop.until(lambda: loop.status(task) == "completed")
    loop.until(lambda: bool(errands(loop, "park")))
    assert errands(loop, "park") == [("v1", "parking_2")]
    loop.until(lambda: loop.vehicles["v1"].last_node_id == "parking_2")
    assert errands(loop, "park") == [("v1", "parking_2")]


def test_an_idle_vehicle_returns_to_a_charger_no_other_vehicle_holds_under_the_charge_policy(
    tmp_path: Path,
) -> None:
    loop = with_idle(tmp_path, "charge")
    assert {v.last_node_id for v in loop.vehicles.values()} == {"charger_1", "charger_2"}
    task = loop.dispatch(patrol("room_102"), robot="v1")
    loop.until(lambda: loop.status(task) == "completed")
    loop.until(lambda: bool(errands(loop, "charge")))
    at_charger_2 = next(s for s, v in loop.vehicles.items() if v.last_node_id == "charger_2")
    assert at_charger_2 != "v1"
    assert errands(loop, "charge") == [("v1", "charger_1")]


def test_an_idle_vehicle_stays_where_its_task_ended_under_the_default_policy(
    tmp_path: Path,
) -> None:
    loop = Loopback(tmp_path / "j.sqlite3")
    task = loop.dispatch(patrol("room_102"), robot="v1")
    loop.until(lambda: loop.status(task) == "completed")
    loop.run(30.0)
    assert loop.vehicles["v1"].last_node_id == "room_102"
    assert [t.category for t in loop.master.tasks.values()] == ["patrol"]


def line(tmp_path: Path, *, replan: bool) -> tuple[Loopback, str]:
    """v1 busy driving n0 -> n5; v2 at n7 under manual control; a task to n6 waits for v1."""
    places = {f"n{i}": (10.0 * i, 0.0) for i in range(8)}
    graph = nav_graph(places, [f"n{i}-n{i + 1}" for i in range(7)])
    config = MasterConfig(topics=TOPICS, vehicles={}, default_fleet="vda", replan=replan)
    loop = Loopback(tmp_path / "j.sqlite3", config=config, nav_graph=graph, starts=["n0", "n7"])
    loop.vehicles["v2"].operating_mode = "MANUAL"
    loop.report("v2")
    loop.dispatch(patrol("n5"), robot="v1")
    task = loop.dispatch(patrol("n6"))
    loop.run(1.0)
    assert loop.master.tasks[task].status == "queued"
    loop.vehicles["v2"].operating_mode = "AUTOMATIC"
    loop.report("v2")
    return loop, task


def log(loop: Loopback, task_id: str) -> list[str]:
    return [
        e["text"]
        for update in loop.hub("task_log_update")
        if update["task_id"] == task_id
        for e in update.get("log", [])
    ]


def test_a_queued_task_goes_to_a_cheaper_vehicle_that_frees_up_and_its_log_says_so(
    tmp_path: Path,
) -> None:
    loop, task = line(tmp_path, replan=True)
    assert loop.master.tasks[task].robot == "v2"
    texts = log(loop, task)
    assert any(t.startswith("Waits for [robot:v1]") for t in texts)
    assert any("Re-planned: [robot:v2] freed up" in t for t in texts)
    loop.until(lambda: loop.status(task) == "completed")


def test_without_replanning_a_queued_task_keeps_the_vehicle_it_waits_for(tmp_path: Path) -> None:
    loop, task = line(tmp_path, replan=False)
    loop.until(lambda: loop.status(task) == "completed")
    assert loop.master.tasks[task].robot == "v1"
    assert not any("Re-planned" in t for t in log(loop, task))


def returning_to_park(tmp_path: Path) -> tuple[Loopback, VdaTask]:
    """v1 done at room_102 and on the lane towards L1:3, returning to parking_2."""
    loop = with_idle(tmp_path, "park", vehicles=1)
    first = loop.dispatch(patrol("room_102"), robot="v1")
    loop.until(lambda: loop.status(first) == "completed")
    loop.until(lambda: bool(errands(loop, "park")) and loop.vehicles["v1"].driving)
    errand = next(t for t in loop.master.tasks.values() if t.category == "park")
    assert loop.vehicles["v1"].last_node_id == "room_102"
    return loop, errand


def test_a_vehicle_returning_to_park_takes_a_new_task_from_the_next_node_it_reaches(
    tmp_path: Path,
) -> None:
    loop, errand = returning_to_park(tmp_path)
    task = loop.dispatch(patrol("lobby"))
    visited: set[str] = set()

    def done() -> bool:
        visited.add(loop.vehicles["v1"].last_node_id)
        return loop.status(task) == "completed"

    loop.until(done)
    assert loop.master.tasks[task].robot == "v1"
    assert errand.status == "canceled"
    assert "parking_2" not in visited
    cancels = [
        action
        for message in loop.instant_actions()
        for action in message.actions
        if action.actionType == "cancelOrder"
    ]
    assert len(cancels) == 1
    first_order = next(o for o in loop.orders("v1") if o.orderId == task and o.orderUpdateId == 0)
    assert first_order.nodes[0].nodeId == "L1:3"
    assert loop.master.traffic.held("vda/v1") == {"node:lobby"}


def test_an_interrupted_park_errand_holds_its_way_until_the_vehicle_stops_on_a_node(
    tmp_path: Path,
) -> None:
    loop, _ = returning_to_park(tmp_path)
    loop.dispatch(patrol("lobby"))
    held = loop.master.traffic.held("vda/v1")
    assert {"node:L1:3", "lane:L1:3|room_102"} <= held
    assert not loop.instant_actions()
