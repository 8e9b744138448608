"""The simulator's control endpoint: stop and restart a simulated robot from outside.

A stopped robot freezes and drops out of its fleet's states, as a robot whose
link died would, so the hub sees it go stale, then offline, and raises an
alert. Tests and demos use it to show that path end to end (the dashboard's
browser tests do). It exists only in the simulator, only with
``FLEETHUB_SIM_CONTROL_PORT`` set (-1: any free port), and listens on 127.0.0.1 only: it is
unauthenticated, like the simulated site it controls.

- ``POST /robots/{fleet}/{robot}/stop``  → 204; 404 for an unknown robot
- ``POST /robots/{fleet}/{robot}/start`` → 204; it reports again from where it stopped
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
from aiohttp import web

from fleetcore.errors import ConfigError
from fleetcore.log import sim_logger
from fleetcore.port_file import report_port
from simulator.simulation import Simulation
from simulator.tasks import CommandRejected

CONTROL_HOST = "127.0.0.1"


def control_app(simulation: Simulation) -> web.Application:
    async def set_stopped(request: web.Request) -> web.Response:
        fleet, robot = request.match_info["fleet"], request.match_info["robot"]
        stopped = request.match_info["action"] == "stop"
        try:
            simulation.set_robot_stopped(fleet, robot, stopped)
        except CommandRejected as exc:
            body = orjson.dumps({"detail": str(exc)}).decode()
            raise web.HTTPNotFound(text=body, content_type="application/json") from None
        sim_logger.info(
            "control: robot %s/%s %s", fleet, robot, "stopped" if stopped else "started"
        )
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/robots/{fleet}/{robot}/{action:stop|start}", set_stopped)
    return app


ANY_FREE_PORT = -1
"""``sim_control_port`` for a port the system picks (0 means no endpoint)."""


@contextlib.asynccontextmanager
async def serving_control(
    simulation: Simulation, port: int, port_file: str = ""
) -> AsyncIterator[None]:
    """Serve the control endpoint on 127.0.0.1:``port`` while the block runs.

    :data:`ANY_FREE_PORT` binds a free port; the port is reported in ``port_file``.
    """
    if port < ANY_FREE_PORT:
        raise ConfigError(f"FLEETHUB_SIM_CONTROL_PORT must be a port, 0 or -1, not {port}")
    runner = web.AppRunner(control_app(simulation), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, CONTROL_HOST, max(port, 0)).start()
        bound = runner.addresses[0][1]
        report_port(port_file, "sim_control", bound)
        sim_logger.info("simulator control on http://%s:%d/robots/...", CONTROL_HOST, bound)
        yield
    finally:
        await runner.cleanup()
