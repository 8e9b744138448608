"""A master control and simulated vehicles wired together in memory, on a simulated clock.

What the master control publishes is handed to the addressed vehicle at once
(unless the test drops it), and each vehicle's state goes back through
``on_mqtt`` as bytes, exactly as it would through a broker: the same codec,
the same topics. Time only moves in :meth:`Loopback.run`, so a task that
takes a vehicle minutes runs in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from fleetcore.contract.vda5050 import Topic, Topics, VehicleId, encode, parse, v2
from fleetcore.mqtt import Outgoing
from simulator.building import sample_site
from simulator.vehicles import SimVehicle, VehicleProfile
from simulator.vehicles.vehicle import ARRIVAL_M
from vda5050.graph import NavGraph
from vda5050.journal import Journal
from vda5050.master import MasterConfig, MasterControl
from vda5050.orders import ReleasePolicy
from vda5050.traffic import lane_key, node_key

TOPICS = Topics()
MANUFACTURER = "acme"
START_MS = 1_700_000_000_000


def graph() -> NavGraph:
    return NavGraph.from_building_map(sample_site().to_building_map(with_images=False))


def occupies(vehicle: SimVehicle, nav_graph: NavGraph) -> str:
    """The lane ``vehicle`` is on (off its last node, towards the next), else the node it is on.

    Told by its position, not by ``driving``: that flag says it moved during
    its last step, so a vehicle that reached a node in that step and stopped
    there (its next node not released yet) still reads driving. Counting it
    on the lane ahead, which it neither entered nor held, made two vehicles
    stopped nose to nose at the two ends of a lane a head-on conflict.
    A vehicle whose order was canceled on a lane stopped there: it is on that
    lane, or on its last node if within that node's allowed deviation (as the
    spec counts it, and as its next order starts there).
    """
    last = nav_graph.vertices[vehicle.last_node_id]
    gap = math.hypot(vehicle.x - last.x, vehicle.y - last.y)
    if gap <= ARRIVAL_M:
        return node_key(vehicle.last_node_id)
    if vehicle.nodes and vehicle.nodes[0].released:
        return lane_key(vehicle.last_node_id, vehicle.nodes[0].nodeId)
    deviation = ReleasePolicy().deviation_m
    if gap <= deviation:
        return node_key(vehicle.last_node_id)
    lane = nav_graph.lane_from(vehicle.last_node_id, vehicle.x, vehicle.y, deviation)
    assert lane is not None, f"{vehicle.serial_number} is off the graph"
    return lane_key(lane.start, lane.end)


class Loopback:
    def __init__(
        self,
        journal_path: Path,
        *,
        vehicles: int = 2,
        config: MasterConfig | None = None,
        profile: VehicleProfile | None = None,
        nav_graph: NavGraph | None = None,
        starts: list[str] | None = None,
    ) -> None:
        """``nav_graph`` and ``starts`` (its vertices, one per vehicle): another map than the demo's."""
        self.now_ms = START_MS
        self.mono = 0.0
        self.to_hub: list[tuple[dict[str, Any], bool]] = []
        self.sent: list[Outgoing] = []
        self.published: list[tuple[Topic, bytes]] = []
        """What the vehicles sent the master control."""
        self.lose: Callable[[Outgoing], bool] = lambda message: False
        """Which of the master control's messages never reach their vehicle."""
        self.silent: set[str] = set()
        """Vehicles that vanished: they neither report nor get messages (but go on moving)."""
        self.journal_path = journal_path
        self.config = config or MasterConfig(topics=TOPICS, vehicles={}, default_fleet="vda")
        self.graph = nav_graph or graph()
        self.master = self._master()
        if starts is None:
            site = sample_site()
            starts = [v.name for v in site.spawn_points() if v.level == "L1"][:vehicles]
        self.vehicles: dict[str, SimVehicle] = {}
        self.headers: dict[tuple[str, Topic], int] = {}
        for i, start in enumerate(starts):
            spot = self.graph.vertices[start]
            serial = f"v{i + 1}"
            self.vehicles[serial] = SimVehicle(
                manufacturer=MANUFACTURER,
                serial_number=serial,
                map_id=spot.map,
                x=spot.x,
                y=spot.y,
                node_id=spot.id,
                profile=profile or VehicleProfile(speed_mps=2.0, action_s=2.0),
            )
            self.connect(serial)
            self.report(serial)

    def _master(self) -> MasterControl:
        return MasterControl(
            self.config,
            self.graph,
            Journal(self.journal_path),
            to_hub=lambda frame, durable: self.to_hub.append((orjson.loads(frame), durable)),
            to_vehicles=self._deliver,
            clock_ms=lambda: self.now_ms,
            monotonic=lambda: self.mono,
        )

    def restart_master(self) -> None:
        """A new master control on the same journal, as after a SIGKILL; the vehicles go on."""
        self.master.journal.close()
        self.master = self._master()
        for serial in self.vehicles:
            self.connect(serial)

    def _deliver(self, message: Outgoing) -> bool:
        self.sent.append(message)
        if self.lose(message):
            return True
        address = TOPICS.parse(message.topic)
        assert address is not None
        if address[0].serial_number in self.silent:
            return True
        vehicle = self.vehicles[address[0].serial_number]
        if address[1] is Topic.ORDER:
            order = parse(v2.Order, message.payload)
            vehicle.on_order(order, order.headerId)
        else:
            vehicle.on_instant_actions(parse(v2.InstantActions, message.payload))
        return True

    def _header(self, serial: str, topic: Topic) -> int:
        value = self.headers.get((serial, topic), 0)
        self.headers[(serial, topic)] = value + 1
        return value

    def publish(self, serial: str, topic: Topic, payload: bytes) -> None:
        self.published.append((topic, payload))
        self.master.on_mqtt(TOPICS.of(VehicleId(MANUFACTURER, serial), topic), payload)

    def connect(self, serial: str, state: str = "ONLINE") -> None:
        vehicle = self.vehicles[serial]
        message = v2.Connection(
            **vehicle.header(self._header(serial, Topic.CONNECTION)),  # type: ignore[arg-type]
            connectionState=state,  # type: ignore[arg-type]
        )
        self.publish(serial, Topic.CONNECTION, encode(message))

    def report(self, serial: str) -> None:
        vehicle = self.vehicles[serial]
        vehicle.changed = False
        state = vehicle.state(self._header(serial, Topic.STATE))
        self.publish(serial, Topic.STATE, encode(state))

    def run(self, seconds: float, dt: float = 0.1) -> None:
        """Time passes: vehicles move and report (at once on events, else every 0.5 s)."""
        steps = round(seconds / dt)
        for i in range(steps):
            self.now_ms += int(dt * 1000)
            self.mono += dt
            for serial, vehicle in self.vehicles.items():
                vehicle.step(dt)
                if serial not in self.silent and (vehicle.changed or i % 5 == 0):
                    self.report(serial)
            if i % 5 == 0:
                self.master.tick()
            self.master.flush()

    def occupancy(self) -> dict[str, list[str]]:
        """Which vehicles are on each node or lane now, from their own positions."""
        on: dict[str, list[str]] = {}
        for serial, vehicle in self.vehicles.items():
            on.setdefault(occupies(vehicle, self.graph), []).append(serial)
        return on

    def until(self, done: Callable[[], bool], seconds: float = 300.0) -> None:
        for _ in range(round(seconds / 0.5)):
            if done():
                return
            self.run(0.5)
        raise AssertionError(f"not done within {seconds} simulated seconds")

    # ----------------------------------------------------------- reading

    def dispatch(self, request: dict[str, Any], fleet: str = "vda", robot: str = "") -> str:
        state = self.master.dispatch(request, fleet, robot)
        return str(state["booking"]["id"])

    def status(self, task_id: str) -> str:
        return str(self.master.tasks[task_id].status)

    def orders(self, serial: str | None = None) -> list[v2.Order]:
        return [
            parse(v2.Order, m.payload)
            for m in self.sent
            if m.topic.endswith("/order") and (serial is None or f"/{serial}/" in m.topic)
        ]

    def released(self, serial: str) -> set[str]:
        """Every node (as its traffic key) some order released (made base) to ``serial``."""
        return {
            node_key(node.nodeId)
            for order in self.orders()
            if order.serialNumber == serial
            for node in order.nodes
            if node.released
        }

    def instant_actions(self) -> list[v2.InstantActions]:
        return [
            parse(v2.InstantActions, m.payload)
            for m in self.sent
            if m.topic.endswith("/instantActions")
        ]

    def hub(self, kind: str) -> list[dict[str, Any]]:
        return [frame["data"] for frame, _ in self.to_hub if frame["type"] == kind]

    def fleet_robots(self, fleet: str = "vda") -> set[str]:
        """The robots of the last fleet state the hub got for ``fleet``."""
        states = [s for s in self.hub("fleet_state_update") if s["name"] == fleet]
        return set(states[-1]["robots"]) if states else set()


def patrol(*places: str, rounds: int = 1) -> dict[str, Any]:
    return {"category": "patrol", "description": {"places": list(places), "rounds": rounds}}


def delivery(pickup: str = "pantry", dropoff: str = "room_101") -> dict[str, Any]:
    return {
        "category": "delivery",
        "description": {
            "pickup": {
                "place": pickup,
                "handler": f"{pickup}_dispenser",
                "payload": [{"sku": "coke", "quantity": 1}],
            },
            "dropoff": {"place": dropoff, "handler": f"{dropoff}_ingestor", "payload": []},
        },
    }
