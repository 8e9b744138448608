"""The master control as a running site: MQTT on one side, the hub's ``/_internal`` on the other.

``fleethub vda5050`` runs it on its own (health and metrics on
``vda5050_port``); ``fleethub up`` runs the same service in its process.
Both talk to the hub exactly as a remote site does, through
:class:`~fleetcore.site_client.SiteClient`: fleet and task states are
re-sent on every reconnect, logs and command answers are durable frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from fleetcore.aio import CLEANUP_GRACE_S, cancel_all, cancel_and_wait, until_one_ends
from fleetcore.contract.ingest import ingest_url
from fleetcore.contract.site_link import Serves
from fleetcore.contract.vda5050 import DELIVERY, VEHICLE_TOPICS, Topics
from fleetcore.errors import ConfigError
from fleetcore.metrics import metrics_handler
from fleetcore.mqtt import MqttConfig, MqttLink
from fleetcore.settings import Settings
from fleetcore.site_client import SiteClient
from vda5050.allocation import BatteryPolicy
from vda5050.graph import NavGraph
from vda5050.idle import IdlePolicy
from vda5050.journal import Journal
from vda5050.master import MASTER_CONTROL_KINDS, MasterConfig, MasterControl, vda_logger
from vda5050.orders import ReleasePolicy
from vda5050.vehicles import parse_vehicle_map

TICK_S = 0.5
"""How often re-sends, assignments and the periodic fleet states are looked at."""
JOURNAL_FILE = "vda5050.sqlite3"


def master_config(settings: Settings) -> MasterConfig:
    if settings.vda5050_release_nodes < 1:
        raise ConfigError("FLEETHUB_VDA5050_RELEASE_NODES must be at least 1")
    return MasterConfig(
        topics=Topics(settings.vda5050_interface, settings.vda5050_major),
        vehicles=parse_vehicle_map(settings.vda5050_vehicles),
        default_fleet=settings.vda5050_default_fleet,
        max_vehicles=settings.vda5050_max_vehicles,
        state_timeout_s=settings.vda5050_state_timeout_s,
        resend_s=settings.vda5050_resend_s,
        max_message_bytes=settings.vda5050_max_message_bytes,
        blocked_alert_s=settings.vda5050_blocked_alert_s,
        idle=IdlePolicy(settings.vda5050_idle_policy, settings.vda5050_idle_after_s),
        replan=settings.vda5050_replan,
        fleet_state_per_robot_s=settings.vda5050_fleet_state_per_robot_s,
        detour_slack=settings.vda5050_detour_slack,
        held_toll_m=settings.vda5050_held_toll_m,
        battery=BatteryPolicy(
            critical=settings.vda5050_battery_critical,
            drain_per_m=settings.vda5050_battery_drain_per_m,
        ),
        release=ReleasePolicy(
            release_nodes=settings.vda5050_release_nodes,
            horizon_nodes=settings.vda5050_horizon_nodes,
            deviation_m=settings.vda5050_node_deviation_m,
        ),
    )


def mqtt_config(settings: Settings, url: str = "") -> MqttConfig:
    return MqttConfig.from_url(
        url or settings.mqtt_url,
        username=settings.mqtt_username,
        password=settings.mqtt_password,
        ca_file=settings.mqtt_ca_file,
        cert_file=settings.mqtt_cert_file,
        key_file=settings.mqtt_key_file,
        protocol=settings.mqtt_protocol,
        keepalive_s=settings.mqtt_keepalive_s,
    )


def nav_graph(settings: Settings) -> NavGraph:
    """The vehicles' graph: the configured building map, or the simulated site's."""
    if settings.vda5050_nav_graph:
        return NavGraph.from_file(Path(settings.vda5050_nav_graph), settings.vda5050_nav_graph_name)
    from simulator.building import sample_site

    return NavGraph.from_building_map(sample_site().to_building_map(with_images=False))


class MasterControlService:
    """The :class:`MasterControl` with its two links and its clock; ``await run()`` until cancelled."""

    def __init__(self, settings: Settings, *, mqtt: MqttConfig, graph: NavGraph) -> None:
        self.settings = settings
        config = master_config(settings)
        self.journal = Journal(settings.data_dir / JOURNAL_FILE)
        self.site = SiteClient(
            ingest_url(settings.resolved_hub_url, settings.ingest_token),
            on_connect=lambda: self.master.hub_snapshot(first=self.site.connections == 1),
            on_message=self._on_hub,
            serves=Serves(
                commands=tuple(sorted(MASTER_CONTROL_KINDS)),
                fleets=tuple(config.fleets),
                bids=True,
            ),
            heartbeat_s=settings.site_heartbeat_s,
            logger=vda_logger,
        )
        self.link = MqttLink(
            mqtt,
            client_id=settings.mqtt_client_id,
            subscriptions=[(config.topics.every(t), DELIVERY[t].qos) for t in VEHICLE_TOPICS],
            on_message=self._on_mqtt,
            logger=vda_logger,
        )
        self.master = MasterControl(
            config,
            graph,
            self.journal,
            to_hub=lambda frame, durable: self.site.send(frame, durable=durable),
            to_vehicles=self.link.publish,
        )
        self._wake = asyncio.Event()
        self._sleeps_until = 0.0
        """When :meth:`_loop` wakes unless woken (``time.monotonic``)."""

    @property
    def ready(self) -> bool:
        return self.link.connected and self.site.connected

    async def run(self) -> None:
        vda_logger.info(
            "VDA 5050 master control for fleets %s on %s, reporting to %s",
            sorted(self.master.served_fleets()),
            self.link.config.display,
            self.settings.resolved_hub_url,
        )
        parts = [
            asyncio.create_task(self.site.run(), name="vda5050-hub"),
            asyncio.create_task(self.link.run(), name="vda5050-mqtt"),
            asyncio.create_task(self._loop(), name="vda5050-ticks"),
        ]
        try:
            await until_one_ends(parts, vda_logger)
        finally:
            await cancel_all(parts)
            self.journal.close()

    def _on_mqtt(self, topic: str, payload: bytes) -> None:
        self.master.on_mqtt(topic, payload)
        self._nudge()

    def _on_hub(self, doc: dict[str, Any]) -> None:
        self.master.on_hub(doc)
        self._nudge()

    def _nudge(self) -> None:
        """Wake :meth:`_loop` if the master control has something due before it would wake."""
        due_in = self.master.flush_due_in()
        if due_in is not None and time.monotonic() + due_in < self._sleeps_until:
            self._wake.set()

    async def _loop(self) -> None:
        """Ticks every ``TICK_S``; flushes as soon as something is due (:mod:`vda5050.pacing`)."""
        next_tick = time.monotonic() + TICK_S
        while True:
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + TICK_S
                self.master.tick()
            self.master.flush()
            due_in = self.master.flush_due_in()
            self._sleeps_until = min(next_tick, now + (math.inf if due_in is None else due_in))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleeps_until - now)


def health_app(service: MasterControlService) -> web.Application:
    """``/healthz``, ``/readyz`` (both links up) and ``/metrics`` of ``fleethub vda5050``."""
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        ready = {"mqtt": service.link.connected, "hub": service.site.connected}
        return web.json_response(
            {"status": "ready" if all(ready.values()) else "not ready", **ready},
            status=200 if all(ready.values()) else 503,
        )

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app


@contextlib.asynccontextmanager
async def running(service: MasterControlService) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``service`` beside the caller, yielding its task (it runs until cancelled, so its
    ending is a failure); stopped (and its journal closed) on exit."""
    task = asyncio.create_task(service.run(), name="vda5050-master-control")
    try:
        yield task
    finally:
        await cancel_and_wait(task, grace_s=CLEANUP_GRACE_S)
