"""An order canceled while its vehicle is between two nodes: it stops on the lane and holds it.

A corridor c0 - c1 - ... - c5, 5 m lanes. ``v1`` drives from c1 to c5 and
``v2`` follows from c0; ``v2`` takes c2 once ``v1`` is clear of it. ``v1``'s
order is canceled on the lane c2 - c3 and it stops there (VDA 5050 lets it).
It holds that lane and c3 (and c2 while not clear of it): ``v2`` is never
released onto them. Its next order starts at c2, its last node, with a
deviation covering where it stands, and drives on to c3 first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from fleetcore.contract.vda5050 import v2
from simulator.vehicles import SimVehicle
from tests.vda5050.loopback import Loopback, occupies, patrol
from tests.vda5050.test_deadlock import loopback, nav_graph
from vda5050.traffic import lane_key, node_key

V1, V2 = "vda/v1", "vda/v2"
ON_LANE = {lane_key("c2", "c3"), node_key("c3")}


def corridor(tmp_path: Path) -> Loopback:
    places = {f"c{i}": (5.0 * i, 0.0) for i in range(6)}
    lanes = [f"c{i}-c{i + 1}" for i in range(5)]
    return loopback(tmp_path, nav_graph(places, lanes), ["c1", "c0"])


def conflicts() -> float:
    return REGISTRY.get_sample_value("fleethub_vda5050_traffic_conflicts_total") or 0.0


def alone(loop: Loopback) -> None:
    """No two vehicles on one node or lane, and each on what it holds."""
    for resource, serials in loop.occupancy().items():
        assert len(serials) == 1, (resource, serials)
    for serial, vehicle in loop.vehicles.items():
        assert loop.master.traffic.owner.get(occupies(vehicle, loop.graph)) == f"vda/{serial}"


def run(loop: Loopback, seconds: float) -> None:
    for _ in range(round(seconds / 0.1)):
        loop.run(0.1)
        alone(loop)


def cancel_past_c2(loop: Loopback, metres: float) -> tuple[str, str]:
    """``v1`` canceled ``metres`` past c2 with ``v2`` behind it; their tasks."""
    first = loop.dispatch(patrol("c5"), robot="v1")
    follower = loop.dispatch(patrol("c4"), robot="v2")
    v1 = loop.vehicles["v1"]
    while v1.x < 10.0 + metres:
        loop.run(0.1)
        alone(loop)
    loop.master.cancel(loop.master.tasks[first], "canceled", [])
    return first, follower


def orders_to_v1(loop: Loopback) -> list[v2.Order]:
    return [order for order in loop.orders() if order.serialNumber == "v1"]


def stands_on_the_lane(vehicle: SimVehicle) -> bool:
    return not vehicle.nodes and not vehicle.driving and 10.0 < vehicle.x < 15.0


def finish(loop: Loopback, *tasks: str) -> None:
    for _ in range(600):
        if all(loop.status(task) == "completed" for task in tasks):
            return
        run(loop, 0.5)
    raise AssertionError([loop.status(task) for task in tasks])


@pytest.mark.parametrize("metres", [2.0, 3.5])
def test_a_vehicle_canceled_on_a_lane_holds_it_and_the_follower_is_never_released_onto_it(
    tmp_path: Path, metres: float
) -> None:
    loop = corridor(tmp_path)
    before = conflicts()
    _, follower = cancel_past_c2(loop, metres)
    loop.report("v1")  # stopped where it was
    assert stands_on_the_lane(loop.vehicles["v1"])
    assert loop.master.traffic.held(V1) == ON_LANE  # clear of c2: v2 has it
    assert loop.master.traffic.owner[node_key("c2")] == V2
    for _ in range(100):
        run(loop, 0.1)
        if loop.vehicles["v1"].last_node_id != "c2":
            break
        assert ON_LANE <= loop.master.traffic.held(V1)
    assert not loop.released("v2") & ON_LANE
    assert conflicts() == before
    finish(loop, follower)


@pytest.mark.parametrize("metres", [2.0, 3.5])
def test_the_next_order_of_a_vehicle_stopped_on_a_lane_starts_at_its_last_node_and_completes(
    tmp_path: Path, metres: float
) -> None:
    """Its next order here moves it aside for the follower, which waits for the lane."""
    loop = corridor(tmp_path)
    before = conflicts()
    canceled, follower = cancel_past_c2(loop, metres)
    sent = len(orders_to_v1(loop))
    loop.until(lambda: len(orders_to_v1(loop)) > sent, seconds=10)
    order = orders_to_v1(loop)[sent]
    first = order.nodes[0]
    assert (first.nodeId, first.sequenceId) == ("c2", 0)
    assert first.nodePosition is not None
    assert (first.nodePosition.allowedDeviationXY or 0.0) >= metres
    assert [node.nodeId for node in order.nodes[:2]] == ["c2", "c3"]
    assert order.edges[0].edgeId == "c2-c3"
    finish(loop, follower, *loop.master.tasks.keys() - {canceled, follower})
    assert not loop.vehicles["v1"].errors
    assert conflicts() == before


@pytest.mark.parametrize("stood", [True, False], ids=["after it stood", "before it stopped"])
def test_a_restarted_master_control_holds_the_lane_a_canceled_vehicle_stands_on(
    tmp_path: Path, stood: bool
) -> None:
    loop = corridor(tmp_path)
    before = conflicts()
    canceled, follower = cancel_past_c2(loop, 2.0)
    if stood:
        loop.report("v1")
    loop.restart_master()
    assert ON_LANE <= loop.master.traffic.held(V1)
    loop.report("v1")
    assert loop.master.traffic.held(V1) == ON_LANE
    assert not loop.released("v2") & ON_LANE
    finish(loop, follower)
    later = loop.master.tasks.keys() - {canceled, follower}
    assert later and conflicts() == before
