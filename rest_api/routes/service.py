"""Operating the service: the clock, liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web
from tortoise.connection import get_connection

from fleetcore.log import api_logger
from fleetcore.metrics import metrics_handler
from rest_api.access import PUBLIC
from rest_api.keys import BUS_KEY, READINESS_KEY, READINESS_SEEN_KEY
from rest_api.models import Health
from rest_api.query import now_ms
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body

routes = ApiRoutes("Service", access=PUBLIC)


@routes.get("/time", response=int)
async def get_time(request: web.Request) -> web.Response:
    """The server's current time in unix milliseconds, as rmf-web's ``/time``."""
    return json_body(now_ms())


@routes.get("/healthz", response=Health)
async def get_healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. Depends on nothing else, so a restart cannot fix a failure."""
    return json_body({"status": "alive"})


@routes.get("/readyz", response=Health, errors=(503,))
async def get_readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers a query, the bus answers a position (and in
    ``fleethub up`` the hub takes messages).

    503 with the failing parts otherwise, so a load balancer stops routing here.
    """
    problems: list[str] = []
    process = request.app.get(READINESS_KEY)
    problem = process() if process is not None else None
    if problem is not None:
        problems.append(f"hub: {problem}")
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    try:
        await request.app[BUS_KEY].position()
    except Exception as exc:
        problems.append(f"bus: {type(exc).__name__}")
    _log_change(request.app, problems)
    if problems:
        body = {"status": "not ready", "problems": problems, "detail": "; ".join(problems)}
        return json_body(body, status=503)
    return json_body({"status": "ready", "problems": []})


@routes.get("/metrics", response=None, media_type="text/plain")
async def get_metrics(request: web.Request) -> web.Response:
    """Prometheus metrics of this process, in the text exposition format."""
    return await metrics_handler(request)


def _log_change(app: web.Application, problems: list[str]) -> None:
    """Log at WARNING when readiness changes: a load balancer probes every few seconds, and an
    outage (already logged by whatever retries it) is no news at each probe."""
    seen = app[READINESS_SEEN_KEY]
    if problems == seen:
        return
    if problems:
        api_logger.warning("not ready: %s", "; ".join(problems))
    else:
        api_logger.warning("ready again")
    seen[:] = problems
