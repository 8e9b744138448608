"""Typed application keys: what the handlers share through the aiohttp app, never globals."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from fleetcore.bus.base import Bus
from fleetcore.bus.commands_base import CommandChannel
from fleetcore.map_images import MapImageUrls

BUS_KEY = web.AppKey("rest_api_bus", Bus)
OPENAPI_KEY = web.AppKey("rest_api_openapi_json", bytes)
"""The OpenAPI document, encoded once when the routes are mounted."""
DOCS_KEY = web.AppKey("rest_api_docs_html", str)
"""The offline docs page rendered from that document."""
COMMANDS_KEY = web.AppKey("rest_api_commands", CommandChannel)
"""Where commands go to the hub; absent on an app that was given none (command routes: 503)."""
REPLY_TIMEOUT_KEY = web.AppKey("rest_api_reply_timeout_s", float)
MAP_IMAGES_KEY = web.AppKey("rest_api_map_images", MapImageUrls)
"""Makes the building map's image URLs absolute and signed, and checks them."""
READINESS_KEY = web.AppKey[Callable[[], str | None]]("rest_api_readiness")
"""What else the process needs to be ready (in ``fleethub up``, its hub): why it is not, or None."""
READINESS_SEEN_KEY = web.AppKey("readiness_seen", list[str])
"""The problems the last readiness probe found, so each change is logged once."""
