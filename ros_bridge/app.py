"""Run the bridge as its own process at a site: ``fleethub bridge`` / ``python -m ros_bridge``.

It subscribes to the site's RMF topics and pushes what it converts to the
hub's ``/_internal`` websocket (``settings.resolved_hub_url``, with
``settings.ingest_token`` as the site token, without which it refuses to
start), reconnecting by itself. The hub's commands come back on the same
websocket and are published to RMF (:mod:`ros_bridge.commands`), so a site
needs no inbound port.
ROS 2 itself is configured the ROS way, from the environment
(``ROS_DOMAIN_ID``, ``ROS_AUTOMATIC_DISCOVERY_RANGE``, ``RMW_IMPLEMENTATION``).
"""

from __future__ import annotations

from fleetcore.log import bridge_logger
from fleetcore.settings import Settings
from fleetcore.site_token import require_site_token
from ros_bridge.sink import WebSocketSink, WebSocketSinkConfig, ingest_url


async def run(settings: Settings) -> None:
    """Bridge until cancelled; raises ImportError when rclpy or the RMF interfaces are missing."""
    from ros_bridge.bridge import RosBridge
    from ros_bridge.commands import BridgeCommands

    token = require_site_token(settings, "ros_bridge")
    config = WebSocketSinkConfig(
        ingest_url(settings.resolved_hub_url, token), heartbeat_s=settings.site_heartbeat_s
    )
    sink = WebSocketSink(config)
    async with RosBridge(sink) as bridge:
        sink.handle_frames_with(BridgeCommands(bridge, sink.submit).on_frame)
        await sink.start()
        try:
            bridge_logger.info("bridging RMF to %s", settings.resolved_hub_url)
            await sink.stopped()
        finally:
            await sink.aclose()
