"""The simulator as a running service: real-time ticks feeding the hub connection.

One tick per publish period advances the whole simulation and queues its
frames, so the cost is one loop regardless of the robot count. Fleet states go
out every tick, device states on change and every ``device_period_s``, the
map and full state on every (re)connect. With ``sim_ros``, fleet, door
and lift states are published over ROS 2 instead (:mod:`simulator.ros_site`),
for a ros_bridge to carry to the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

from fleetcore.aio import CLEANUP_GRACE_S, cancel_all, cancel_and_wait, until_one_ends
from fleetcore.contract.ingest import IngestType, encode
from fleetcore.contract.ingest import ingest_url as contract_ingest_url
from fleetcore.log import sim_logger
from fleetcore.settings import Settings
from fleetcore.site_client import SiteClient
from simulator.commands import SimCommands
from simulator.control import serving_control
from simulator.media import MediaUploader
from simulator.ros_site import ROS_TYPES, RosSitePublisher
from simulator.simulation import SimConfig, Simulation

DURABLE = frozenset({IngestType.TASK_LOG, IngestType.FLEET_LOG})
"""Frames kept while the hub is unreachable: logs cannot be re-sent from state."""


def ingest_url(settings: Settings) -> str:
    """``ws(s)://host:port/_internal[?token=...]`` of the hub the settings name."""
    return contract_ingest_url(settings.resolved_hub_url, settings.ingest_token)


class SimulatorService:
    """A :class:`Simulation` published to the hub in real time; ``await run()`` until cancelled."""

    def __init__(
        self,
        settings: Settings,
        *,
        simulation: Simulation | None = None,
        device_period_s: float = 5.0,
        backoff_initial_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self.media: MediaUploader | None = None
        """Uploads what robots that are stuck or fail a task see; set it before :meth:`run`."""
        self.simulation = simulation or Simulation(
            SimConfig.from_settings(settings), start_ms=int(time.time() * 1000)
        )
        # Answers are durable: one lost while reconnecting would leave its command pending.
        self.commands = SimCommands(
            self.simulation,
            lambda frame: self.client.send(frame, durable=True),
            shared=settings.vda5050,
        )
        self.client = SiteClient(
            ingest_url(settings),
            on_connect=self._snapshot_frames,
            on_message=self.commands.on_message,
            serves=self.commands.serves(),
            backoff_initial_s=backoff_initial_s,
            heartbeat_s=settings.site_heartbeat_s,
            logger=sim_logger,
        )
        self.ros: RosSitePublisher | None = RosSitePublisher() if settings.sim_ros else None
        self.period_s = 1.0 / max(0.1, settings.sim_rate_hz)
        self.device_period_s = device_period_s
        self._since_devices = 0.0

    def _snapshot_frames(self) -> list[bytes]:
        sim = self.simulation
        outgoing = [*sim.snapshot(), *((IngestType.FLEET_STATE, s) for s in sim.fleet_states())]
        # Over ROS these are published every tick or period anyway; a re-send is not needed.
        return [encode(kind, data) for kind, data in outgoing if not self._over_ros(kind)]

    def _over_ros(self, kind: IngestType) -> bool:
        return self.ros is not None and kind in ROS_TYPES

    def _send(self, kind: IngestType, data: dict[str, Any]) -> None:
        if self.ros is not None and self._over_ros(kind):
            self.ros.publish(kind, data)
        else:
            self.client.send(encode(kind, data), durable=kind in DURABLE)

    def tick(self, dt: float) -> None:
        """Advance by ``dt`` seconds and queue what the hub must hear about."""
        sim = self.simulation
        sim.step(dt)
        for kind, data in sim.drain():
            self._send(kind, data)
        for incident in sim.drain_incidents():
            if self.media is not None:
                self.media.submit(incident)
        for state in sim.fleet_states():
            self._send(IngestType.FLEET_STATE, state)
        self._since_devices += dt
        if self._since_devices >= self.device_period_s:
            self._since_devices = 0.0
            for kind, data in sim.device_states():
                self._send(kind, data)

    async def run(self) -> None:
        """Simulate and publish until cancelled; raises :class:`~fleetcore.errors.PartFailed`
        (logged at once) if the simulation or its link to the hub ever fails."""
        robots = sum(len(f) for f in self.simulation.fleets.values())
        sim_logger.info(
            "simulating %d robots in fleets %s, publishing to %s at %.1f Hz",
            robots,
            list(self.simulation.fleets),
            self.settings.resolved_hub_url,
            1.0 / self.period_s,
        )
        port = self.settings.sim_control_port
        if self.ros is not None:
            self.ros.start()
        client = asyncio.create_task(self.client.run(), name="the simulator's link to the hub")
        ticks = asyncio.create_task(self._ticks(), name="the simulation")
        try:
            serving = serving_control(self.simulation, port, self.settings.port_file)
            async with serving if port else contextlib.nullcontext():
                await until_one_ends((client, ticks), sim_logger)
        finally:
            await cancel_all([ticks])
            with contextlib.suppress(Exception):
                await cancel_and_wait(client, grace_s=CLEANUP_GRACE_S)
            if self.ros is not None:
                self.ros.close()
            if self.media is not None:
                await self.media.aclose()

    async def _ticks(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        deadline = last
        while True:
            deadline += self.period_s
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            now = loop.time()
            if now - deadline > self.period_s:
                deadline = now
            self.tick(now - last)
            last = now


def run(settings: Settings) -> Coroutine[Any, Any, None]:
    """``await simulator.run(settings)``: the simulator, until cancelled."""
    return SimulatorService(settings).run()
