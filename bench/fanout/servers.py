"""The Python servers of bench/fanout, one per process: ``ours``, ``filtered``, ``stock`` or ``graphql``.

``ours`` is the real proxy (``proxy.app.create_app``) fed by an ``InMemoryBus``
that a publisher task in the same process publishes to, as the hub would.
``filtered`` is the same proxy with authentication on and a real (SQLite) user
store: five users each read one robot of the five, so every update has five
filtered views, each filtered and encoded once; ``/bench/tokens`` hands the
clients their tokens (round robin). ``stock`` is python-socketio as its
documentation shows it: ``enter_room`` on subscribe and ``emit(room, data,
to=room)`` per update. ``graphql`` is the real API process
(``rest_api.app.create_app``, authentication off, SQLite in a temporary
directory) on an ``InMemoryBus`` published to as ``ours`` is: its clients
subscribe to ``fleetState`` over graphql-transport-ws (``bench/graphql_fanout.py``).
Before any client connects it publishes one update, so each subscription's
first message (the room's sticky value) tells its client it is subscribed.

All serve the control endpoints the orchestrator drives (the Node baseline
serves the same): ``/bench/ready`` and ``/bench/run?mode=flat&seconds=S`` (publish
flat out for S seconds) or ``?mode=paced&rate=R&seconds=S``; each publication
carries its publish time in the payload's first key ``t``.

Run: ``python -m bench.fanout.servers {ours,filtered,stock,graphql} PORT ROOM BASE_JSON``.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import socketio
from aiohttp import web

from fleetcore.auth import Authenticator, users
from fleetcore.auth.tokens import with_generated_jwt_secret
from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from fleetcore.heap import freeze_startup_heap
from fleetcore.settings import Settings
from proxy.app import create_app
from rest_api.app import create_app as create_api_app

Publish = Callable[[], Awaitable[None]]
DATA_DIR_KEY = web.AppKey("bench_data_dir", Path)


def raise_fd_limit() -> None:
    """Thousands of sockets need thousands of descriptors: take the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def flat(publish: Publish, seconds: float) -> dict[str, Any]:
    """Publish back to back, yielding to the loop between publications, for ``seconds``."""
    start = time.time()
    end = start + seconds
    published = 0
    while time.time() < end:
        await publish()
        published += 1
        await asyncio.sleep(0)
    return {"published": published, "start": start, "end": time.time()}


async def paced(publish: Publish, rate: float, seconds: float) -> dict[str, Any]:
    """Publish ``rate`` times a second on a fixed schedule (no drift), ``rate * seconds`` times."""
    start = time.time()
    count = round(rate * seconds)
    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / rate - time.time()))
        await publish()
    return {"published": count, "start": start, "end": time.time()}


def control_routes(app: web.Application, publish: Publish) -> None:
    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    async def run(request: web.Request) -> web.Response:
        seconds = float(request.query["seconds"])
        if request.query["mode"] == "flat":
            return web.json_response(await flat(publish, seconds))
        return web.json_response(await paced(publish, float(request.query["rate"]), seconds))

    app.router.add_get("/bench/ready", ready)
    app.router.add_get("/bench/run", run)


def publisher(bus: InMemoryBus, room: str, base: dict[str, Any]) -> Publish:
    """Publishes ``base`` to ``room`` with its publish time as the first key ``t``, as the hub would."""
    rest = orjson.dumps(base)[1:]  # the payload after its opening brace
    seq = 0

    async def publish() -> None:
        nonlocal seq
        seq += 1
        now = time.time()
        data = b'{"t":' + repr(now).encode() + b"," + rest
        await bus.publish([Publication(room, seq, 1, int(now * 1000), data)])

    return publish


def ours(room: str, base: dict[str, Any], auth_mode: str = "off") -> web.Application:
    """auth off: every client is an admin, the unfiltered path."""
    bus = InMemoryBus()
    data_dir = Path(tempfile.mkdtemp(prefix="fleethub-bench-"))
    # One server with its own data dir, like `fleethub up`: it may make up its token secret.
    settings = with_generated_jwt_secret(Settings(data_dir=data_dir, auth_mode=auth_mode))
    app = create_app(settings, bus)
    app[DATA_DIR_KEY] = data_dir
    control_routes(app, publisher(bus, room, base))
    return app


def graphql(room: str, base: dict[str, Any]) -> web.Application:
    """The API process with authentication off: every subscriber is an admin, the unfiltered path."""
    bus = InMemoryBus()
    data_dir = Path(tempfile.mkdtemp(prefix="fleethub-bench-"))
    app = create_api_app(Settings(data_dir=data_dir, auth_mode="off"), bus)
    publish = publisher(bus, room, base)

    async def sticky(app: web.Application) -> None:
        await publish()

    app.on_startup.append(sticky)
    control_routes(app, publish)
    return app


def filtered(room: str, base: dict[str, Any]) -> web.Application:
    """Authentication on; user ``viewer<i>`` reads only robot ``i`` of the fleet."""
    app = ours(room, base, auth_mode="jwt")
    fleet = room.split("/")[2]
    tokens: list[str] = []

    async def user_store(app: web.Application) -> None:
        settings = with_generated_jwt_secret(Settings(data_dir=app[DATA_DIR_KEY]))
        issuer = Authenticator(settings).verifier
        for i, robot in enumerate(base["robots"]):
            name = f"viewer{i}"
            await users.create_group(name)
            await users.add_member(name, "robot", f"{fleet}/{robot}")
            await users.create_role(name)
            await users.grant(name, "robot_read", name)
            await users.create_user(name)
            await users.set_user_roles(name, [name])
            tokens.append(issuer.issue(name, 24 * 3600.0)[0])

    async def hand_out(request: web.Request) -> web.Response:
        return web.json_response({"tokens": tokens})

    app.on_startup.append(user_store)
    app.router.add_get("/bench/tokens", hand_out)
    return app


def stock(room: str, base: dict[str, Any]) -> web.Application:
    app = web.Application()
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=20, ping_timeout=20)
    sio.attach(app)

    @sio.on("subscribe")  # type: ignore[untyped-decorator]
    async def subscribe(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, data["room"])
        return {"success": True}

    async def publish() -> None:
        await sio.emit(room, {"t": time.time(), **base}, to=room)

    control_routes(app, publish)
    return app


async def _freeze_startup_heap(app: web.Application) -> None:
    freeze_startup_heap()


def main() -> None:
    kind, port, room, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], orjson.loads(sys.argv[4])
    raise_fd_limit()
    servers = {"ours": ours, "filtered": filtered, "stock": stock, "graphql": graphql}
    app = servers[kind](room, base)
    if kind != "stock":
        # As `fleethub proxy` and `fleethub api` do once started: full collections then
        # leave the started server's heap alone (python-socketio's stock server does not).
        app.on_startup.append(_freeze_startup_heap)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
