"""Where the loopback harness places a vehicle (node or lane): the bench counts conflicts by it."""

from __future__ import annotations

from fleetcore.contract.vda5050 import v2
from simulator.vehicles import SimVehicle, VehicleProfile
from tests.vda5050.loopback import occupies
from vda5050.graph import GraphVertex, Lane, NavGraph

LINE = NavGraph(
    [GraphVertex(f"n{i}", "L1", 5.0 * i, 0.0, place=True) for i in range(3)],
    [Lane(f"n{a}-n{b}", f"n{a}", f"n{b}", 5.0) for a, b in ((0, 1), (1, 0), (1, 2), (2, 1))],
)


def _driving_to_n1_with_n2_unreleased() -> SimVehicle:
    vehicle = SimVehicle(
        manufacturer="acme",
        serial_number="v1",
        map_id="L1",
        x=0.0,
        y=0.0,
        node_id="n0",
        profile=VehicleProfile(speed_mps=2.0),
    )
    nodes = [
        v2.Node(
            nodeId=f"n{i}",
            sequenceId=2 * i,
            released=i < 2,
            nodePosition=v2.NodePosition(x=5.0 * i, y=0.0, mapId="L1"),
            actions=[],
        )
        for i in range(3)
    ]
    edges = [
        v2.Edge(
            edgeId=f"n{i}-n{i + 1}",
            sequenceId=2 * i + 1,
            released=i < 1,
            startNodeId=f"n{i}",
            endNodeId=f"n{i + 1}",
            actions=[],
        )
        for i in range(2)
    ]
    order = v2.Order(
        **vehicle.header(0),  # type: ignore[arg-type]
        orderId="o1",
        orderUpdateId=0,
        nodes=nodes,
        edges=edges,
    )
    vehicle.on_order(order, 0)
    return vehicle


def test_a_vehicle_between_two_nodes_is_on_their_lane() -> None:
    vehicle = _driving_to_n1_with_n2_unreleased()
    vehicle.step(1.0)
    assert occupies(vehicle, LINE) == "lane:n0|n1"


def test_a_vehicle_stopped_where_it_arrived_this_step_is_on_the_node_not_the_lane_ahead() -> None:
    vehicle = _driving_to_n1_with_n2_unreleased()
    while vehicle.last_node_id != "n1":
        vehicle.step(0.1)
    assert vehicle.driving and vehicle.nodes[0].nodeId == "n2"
    assert occupies(vehicle, LINE) == "node:n1"
