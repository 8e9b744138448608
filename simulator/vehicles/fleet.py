"""Simulated VDA 5050 vehicles on a real MQTT broker, each an outside client of its own.

Each vehicle connects with its own client id and a last will
(``connection CONNECTIONBROKEN``, QoS 1, retained), publishes ``connection
ONLINE`` and its factsheet (retained) on every connect, takes ``order`` and
``instantActions``, and publishes its ``state`` at ``rate_hz`` and at once
on the events the spec names (a node traversed, an order taken, an action's
status, an error). A graceful stop publishes ``connection OFFLINE`` before
disconnecting, as the spec asks. They know nothing of fleethub: only the
VDA 5050 topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from fleetcore.aio import cancel_all, until_one_ends
from fleetcore.contract.vda5050 import (
    DELIVERY,
    MASTER_TOPICS,
    Topic,
    Topics,
    VdaRejected,
    VehicleId,
    encode,
    parse,
    v2,
)
from fleetcore.errors import ConfigError
from fleetcore.log import sim_logger
from fleetcore.mqtt import MqttConfig, MqttLink, Outgoing
from fleetcore.settings import Settings
from simulator.building import Site
from simulator.vehicles.factsheet import factsheet
from simulator.vehicles.vehicle import SimVehicle, VehicleProfile

vehicle_logger = logging.getLogger("fleethub.sim.vda5050")

TICK_S = 0.1
"""The physics step; states go out at ``rate_hz`` or at once on an event."""


@dataclass(frozen=True, slots=True)
class SimFleetConfig:
    count: int = 3
    manufacturer: str = "fleethub"
    serial_prefix: str = "agv"
    rate_hz: float = 2.0
    profile: VehicleProfile = field(default_factory=VehicleProfile)
    seed: int = 7


class VehicleClient:
    """One :class:`SimVehicle` speaking VDA 5050 over its own MQTT connection."""

    def __init__(self, vehicle: SimVehicle, mqtt: MqttConfig, topics: Topics) -> None:
        self.vehicle = vehicle
        self.topics = topics
        self._headers: dict[Topic, int] = {}
        me = self._id
        self.link = MqttLink(
            mqtt,
            client_id=f"{vehicle.manufacturer}-{vehicle.serial_number}",
            subscriptions=[(topics.of(me, topic), DELIVERY[topic].qos) for topic in MASTER_TOPICS],
            on_message=self._on_message,
            on_connect=self._on_connect,
            will=self._message(Topic.CONNECTION, self._connection("CONNECTIONBROKEN")),
            logger=vehicle_logger,
        )
        self.rejected = 0
        """Messages from the master control that were not valid VDA 5050 (never expected)."""

    @property
    def _id(self) -> VehicleId:
        return VehicleId(self.vehicle.manufacturer, self.vehicle.serial_number)

    def _next_header(self, topic: Topic) -> int:
        value = self._headers.get(topic, 0)
        self._headers[topic] = value + 1
        return value

    def _connection(self, state: str) -> v2.Connection:
        return v2.Connection(
            **self.vehicle.header(self._next_header(Topic.CONNECTION)),  # type: ignore[arg-type]
            connectionState=state,  # type: ignore[arg-type]
        )

    def _message(self, topic: Topic, message: v2.VdaModel) -> Outgoing:
        delivery = DELIVERY[topic]
        return Outgoing(
            self.topics.of(self._id, topic),
            encode(message),
            qos=delivery.qos,
            retain=delivery.retain,
        )

    def _on_connect(self) -> list[Outgoing]:
        sheet = factsheet(self.vehicle, self._next_header(Topic.FACTSHEET))
        return [
            self._message(Topic.CONNECTION, self._connection("ONLINE")),
            self._message(Topic.FACTSHEET, sheet),
            self._message(Topic.STATE, self.vehicle.state(self._next_header(Topic.STATE))),
        ]

    def _on_message(self, topic_name: str, payload: bytes) -> None:
        address = self.topics.parse(topic_name)
        if address is None:
            return
        try:
            if address[1] is Topic.ORDER:
                order = parse(v2.Order, payload)
                self.vehicle.on_order(order, order.headerId)
            elif address[1] is Topic.INSTANT_ACTIONS:
                self.vehicle.on_instant_actions(parse(v2.InstantActions, payload))
        except VdaRejected as exc:
            self.rejected += 1
            vehicle_logger.warning("%s refused a message: %s", self._id, exc)

    def publish_state(self) -> None:
        self.vehicle.changed = False
        state = self.vehicle.state(self._next_header(Topic.STATE))
        self.link.publish(self._message(Topic.STATE, state))

    async def say_offline(self) -> None:
        """The graceful goodbye: ``connection OFFLINE`` (retained), before the disconnect."""
        if self.link.connected:
            self.link.publish(self._message(Topic.CONNECTION, self._connection("OFFLINE")))
            await asyncio.sleep(0.1)


class SimFleet:
    """``count`` vehicles standing on the site's first level, stepped together in real time."""

    def __init__(
        self, site: Site, mqtt: MqttConfig, topics: Topics, config: SimFleetConfig
    ) -> None:
        self.config = config
        level = site.levels[0]
        spots = [v for v in site.spawn_points() if v.level == level]
        chargers = frozenset(v.name for v in site.chargers)
        self.clients: dict[str, VehicleClient] = {}
        for i in range(config.count):
            spot = spots[i % len(spots)]
            serial = f"{config.serial_prefix}{i + 1}"
            vehicle = SimVehicle(
                manufacturer=config.manufacturer,
                serial_number=serial,
                map_id=spot.level,
                x=spot.x,
                y=spot.y,
                node_id=spot.name,
                profile=config.profile,
                chargers=chargers,
                battery=80.0 + 20.0 * ((i * 37) % 10) / 10,
                seed=config.seed + i,
            )
            self.clients[serial] = VehicleClient(vehicle, mqtt, topics)

    async def run(self) -> None:
        """Connect every vehicle and step them until cancelled (then say OFFLINE)."""
        links = [
            asyncio.create_task(c.link.run(), name=f"vda-vehicle-{serial}")
            for serial, c in self.clients.items()
        ]
        ticks = asyncio.create_task(self._ticks(), name="vda-vehicle-ticks")
        try:
            await until_one_ends([*links, ticks], sim_logger)
        finally:
            await cancel_all([ticks])
            with contextlib.suppress(Exception):
                await asyncio.gather(*(c.say_offline() for c in self.clients.values()))
            await cancel_all(links)

    async def _ticks(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / max(0.1, self.config.rate_hz)
        last = loop.time()
        since_state = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            dt, last = now - last, now
            since_state += dt
            periodic = since_state >= period
            if periodic:
                since_state = 0.0
            for client in self.clients.values():
                client.vehicle.step(dt)
                if client.link.connected and (periodic or client.vehicle.changed):
                    client.publish_state()


def sim_fleet_config(settings: Settings) -> SimFleetConfig:
    """The simulated vehicles the settings ask for (``vda5050_sim_*``)."""
    if not 0 <= settings.vda5050_sim_failure_probability <= 1:
        raise ConfigError(
            "FLEETHUB_VDA5050_SIM_FAILURE_PROBABILITY must be from 0 to 1, "
            f"not {settings.vda5050_sim_failure_probability}"
        )
    if not settings.vda5050_sim_speed_mps > 0:
        raise ConfigError("FLEETHUB_VDA5050_SIM_SPEED_MPS must be positive")
    return SimFleetConfig(
        count=settings.vda5050_sim_vehicles,
        rate_hz=settings.vda5050_sim_rate_hz,
        seed=settings.sim_seed,
        profile=VehicleProfile(
            speed_mps=settings.vda5050_sim_speed_mps,
            action_s=settings.vda5050_sim_action_s,
            failure_probability=settings.vda5050_sim_failure_probability,
        ),
    )
