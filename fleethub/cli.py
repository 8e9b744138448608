"""The ``fleethub`` command.

``fleethub up`` runs the whole embedded system; ``hub``, ``proxy``, ``api``,
``sim`` and ``bridge`` run one part each, as on Kubernetes and at RMF sites. Each command
offers the options of the settings sections it runs (:data:`COMMAND_SECTIONS`), and only
those; every option is also an environment variable (``FLEETHUB_<NAME>``) and a key of the
optional TOML file given by ``--config`` / ``FLEETHUB_CONFIG``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from fleetcore.aio import cancel_all
from fleetcore.bus import Bus, bus_from_settings
from fleetcore.errors import ConfigError, PartFailed, StoreError
from fleetcore.heap import collect_young_every, freeze_startup_heap
from fleetcore.log import loggable_url
from fleetcore.port_file import report_port
from fleetcore.settings import (
    ENV_PREFIX,
    UP_DEFAULTS,
    AccessSettings,
    AuthSettings,
    BusSettings,
    CommonSettings,
    DeriveSettings,
    GraphqlSettings,
    HistorySettings,
    HubSettings,
    MediaSettings,
    MqttSettings,
    ProxySettings,
    RestSettings,
    Settings,
    SimSettings,
    SiteSettings,
    SiteTokenSettings,
    StoreSettings,
    Vda5050Settings,
    WebSettings,
    field_docs,
)
from fleethub.users_cli import add_actions as add_user_actions
from fleethub.users_cli import run as run_user_action

COMMANDS: dict[str, str] = {
    "up": "Run everything in one process: hub, proxy, REST API, dashboard and a simulated fleet on SQLite.",
    "hub": "Run the hub: the single writer (ingest at /_internal, derive, store, publish).",
    "proxy": "Run a socket.io proxy (needs FLEETHUB_REDIS_URL).",
    "api": "Run a REST API reader (needs FLEETHUB_REDIS_URL).",
    "sim": "Run the simulated fleet against a hub at --hub-url.",
    "bridge": "Run the ROS 2 bridge at an RMF site: RMF's topics to the hub at --hub-url "
    "(site token: --ingest-token), the hub's commands back to RMF. Needs the ROS extra "
    "(scripts/build_ros_interfaces.sh); --ros-bridge runs the same bridge inside the hub instead, "
    "and `fleethub sim --sim-ros` publishes a simulated fleet over ROS 2 for it to bridge.",
    "vda5050": "Run the VDA 5050 master control: vehicles on the MQTT broker at --mqtt-url shown and "
    "commanded as fleets of the hub at --hub-url (site token: --ingest-token).",
    "migrate": "Apply pending database migrations (run before starting hub/api on a new or upgraded database).",
    "user": "Manage users, roles, security groups and grants (`fleethub user --help` lists the actions).",
}


_SITE = (CommonSettings, SiteTokenSettings, SiteSettings)
"""What every site (``sim``, ``bridge``, ``vda5050``) reads: where the hub is, the token."""

COMMAND_SECTIONS: dict[str, tuple[type[BaseModel], ...]] = {
    "up": tuple(base for base in Settings.__bases__ if base is not BaseSettings),
    "hub": (
        CommonSettings,
        StoreSettings,
        BusSettings,
        AccessSettings,
        HubSettings,
        SiteTokenSettings,
        DeriveSettings,
        HistorySettings,
    ),
    "proxy": (CommonSettings, BusSettings, AuthSettings, WebSettings, ProxySettings),
    "api": (
        CommonSettings,
        StoreSettings,
        BusSettings,
        AuthSettings,
        WebSettings,
        RestSettings,
        MediaSettings,
        GraphqlSettings,
    ),
    "sim": (*_SITE, SimSettings),
    "bridge": _SITE,
    "vda5050": (*_SITE, MqttSettings, Vda5050Settings),
    "migrate": (CommonSettings, StoreSettings),
    "user": (CommonSettings, StoreSettings),
}
"""The settings sections each command runs with, so offers as flags (``up`` runs every part).
Settings outside them keep their defaults (or what the environment or file says)."""


def command_options(command: str) -> list[str]:
    """The settings ``fleethub <command>`` takes as flags, in the order ``--help`` lists them."""
    return list(
        dict.fromkeys(
            name for section in COMMAND_SECTIONS[command] for name in section.model_fields
        )
    )


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps at spaces only, so an option named in a text (``--hub-url``) is never split
    across lines: readers and scripts search the help for whole option names."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleethub",
        formatter_class=_HelpFormatter,
        description="Real-time backend for Open-RMF robot fleets.",
        epilog=f"Every option can also be set as an environment variable {ENV_PREFIX}<OPTION> "
        "(e.g. FLEETHUB_API_PORT=9000) or in the TOML file given by --config.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    docs = field_docs()
    for name, summary in COMMANDS.items():
        defaults = Settings(**_mode_defaults(name))
        cmd = sub.add_parser(
            name, help=summary, description=summary, formatter_class=_HelpFormatter
        )
        cmd.add_argument("--config", help="TOML file of settings (env: FLEETHUB_CONFIG)")
        offered: set[str] = set()
        for section in COMMAND_SECTIONS[name]:
            group = cmd.add_argument_group(
                section.__name__.removesuffix("Settings").lower(), section.__doc__
            )
            for field in section.model_fields:
                if field in offered:
                    continue
                offered.add(field)
                env = ENV_PREFIX + field.upper()
                help_text = f"{docs[field]} [env {env}; default {getattr(defaults, field)!s:.60}]"
                group.add_argument(
                    "--" + field.replace("_", "-"),
                    dest=field,
                    default=None,
                    help=help_text.replace("%", "%%"),
                )
        if name == "user":
            add_user_actions(cmd)
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name) for name in command_options(args.command)}
    return Settings.load(
        config_file=args.config, overrides=overrides, defaults=_mode_defaults(args.command)
    )


def _mode_defaults(command: str) -> Mapping[str, Any]:
    """The defaults of a run mode: ``fleethub up`` is the demo (:data:`UP_DEFAULTS`)."""
    return UP_DEFAULTS if command == "up" else {}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
        _configure_logging(settings.log_level)
        if args.command == "user":
            return asyncio.run(run_user_action(settings, args))
        runner = _RUNNERS[args.command]
        asyncio.run(_until_signalled(runner(settings)))
    except ConfigError as exc:
        print(f"fleethub: configuration error: {exc}", file=sys.stderr)
        return 2
    except (StoreError, PartFailed) as exc:
        print(f"fleethub: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"fleethub: {exc}", file=sys.stderr)
        return 1
    return 0


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def _until_signalled(work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


Beside = Callable[[int], contextlib.AbstractAsyncContextManager[Awaitable[object]]]
"""Something that runs beside a served app (given the port it listens on), as long as the
awaitable it yields: if that ends (it fails), so does the process."""


@contextlib.asynccontextmanager
async def _nothing_beside(port: int) -> AsyncIterator[Awaitable[object]]:
    yield asyncio.Event().wait()


async def _serve(
    app: web.Application,
    settings: Settings,
    name: str,
    banner: Callable[[str], str],
    beside: Beside = _nothing_beside,
    failed: Callable[[], Awaitable[Exception]] | None = None,
) -> None:
    """Serve ``app`` on ``settings.<name>_port`` until cancelled, or until what runs
    ``beside`` it ends, or ``failed`` returns (the hub's writer stopped for good): then the
    app is cleaned up and the error raised, so the process ends non-zero, to be restarted.

    Port 0 binds any free port; the bound one goes to the banner and to ``port_file``.
    ``beside(port)`` runs alongside once the port listens.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    freeze_startup_heap()
    try:
        site = web.TCPSite(runner, settings.host, getattr(settings, f"{name}_port"))
        await site.start()
        port = runner.addresses[0][1]
        report_port(settings.port_file, name, port)
        print(banner(f"http://{settings.host}:{port}"), flush=True)
        async with beside(port) as running:
            await _until_either(running, failed)
    finally:
        await runner.cleanup()


async def _until_either(
    running: Awaitable[object], failed: Callable[[], Awaitable[Exception]] | None
) -> None:
    """Until ``running`` ends (raising what it failed with) or ``failed`` returns (raised)."""
    watched = asyncio.ensure_future(running)
    if failed is None:
        await watched
        return
    fatal = asyncio.ensure_future(failed())
    try:
        done, _ = await asyncio.wait({watched, fatal}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_all([task for task in (watched, fatal) if not task.done()])
    if fatal in done:
        raise fatal.result()
    watched.result()


async def _up(settings: Settings) -> None:
    from fleetcore.auth.tokens import with_generated_jwt_secret
    from fleetcore.map_images import with_generated_url_signing_key
    from fleetcore.site_token import SITE_TOKEN_FILE, with_generated_site_token
    from fleethub.embedded import HUB_KEY, create_app, simulated_site, vda5050_site

    def banner(base: str) -> str:
        ws = base.replace("http", "ws", 1)
        database = settings.resolved_database_url
        store = (
            f"SQLite {database.removeprefix('sqlite://')}"
            if database.startswith("sqlite")
            else f"PostgreSQL {loggable_url(database)}"
        )
        bus = (
            f"Redis {loggable_url(settings.redis_url)}" if settings.redis_url else "in-process bus"
        )
        return (
            f"fleethub is up ({store}, {bus}, {settings.sim_robots} simulated robots)\n"
            f"  dashboard  {base}/\n"
            f"  REST API   {base}/fleets   (OpenAPI {base}/openapi.json, docs {base}/docs)\n"
            f"  socket.io  {base}/socket.io/\n"
            f"  ingest     {ws}/_internal?token=<site token>   (site token: "
            f"{settings.data_dir / SITE_TOKEN_FILE}, or FLEETHUB_INGEST_TOKEN)\n"
            f"  metrics    {base}/metrics\n"
            "Press Ctrl+C to stop."
        )

    # One process is the whole system here, so it may make up its own secrets (and keep them).
    settings = with_generated_url_signing_key(
        with_generated_jwt_secret(
            with_generated_site_token(settings.replace(hub_port=settings.api_port))
        )
    )

    @contextlib.asynccontextmanager
    async def sites(port: int) -> AsyncIterator[Awaitable[object]]:
        listening = settings.replace(api_port=port, hub_port=port)
        async with simulated_site(listening) as simulator:
            if not settings.vda5050:
                yield simulator
                return
            async with vda5050_site(listening) as mqtt_url:
                print(
                    f"  VDA 5050   {mqtt_url}   ({settings.vda5050_sim_vehicles} simulated "
                    f"vehicles, topics {settings.vda5050_interface}/{settings.vda5050_major}/...)",
                    flush=True,
                )
                yield simulator

    app = create_app(settings)
    await _serve(
        app,
        settings,
        "api",
        banner,
        beside=sites,
        failed=app[HUB_KEY].failed,
    )


def _shared_bus(settings: Settings, part: str) -> Bus:
    if not settings.redis_url:
        raise ConfigError(
            f"`fleethub {part}` runs as its own process and needs FLEETHUB_REDIS_URL; "
            "the in-process bus only connects the parts inside `fleethub up`"
        )
    return bus_from_settings(settings)


async def _hub(settings: Settings) -> None:
    from hub.web import HUB_KEY, create_app

    bus = _shared_bus(settings, "hub")
    app = create_app(settings, bus)
    collect_young_every()
    await _serve(app, settings, "hub", lambda b: f"hub on {b}", failed=app[HUB_KEY].failed)


async def _proxy(settings: Settings) -> None:
    from proxy.app import create_app

    bus = _shared_bus(settings, "proxy")
    await _serve(create_app(settings, bus), settings, "proxy", lambda b: f"proxy on {b}")


async def _api(settings: Settings) -> None:
    from fleetcore.bus import command_channel_from_settings
    from rest_api.app import create_app

    bus = _shared_bus(settings, "api")
    commands = command_channel_from_settings(settings, consumer="api")
    await _serve(
        create_app(settings, bus, commands=commands), settings, "api", lambda b: f"api on {b}"
    )


async def _sim(settings: Settings) -> None:
    from fleetcore.site_token import require_site_token
    from simulator import run

    require_site_token(settings, "`fleethub sim`")
    print(
        f"simulating {settings.sim_robots} robots against {settings.resolved_hub_url}", flush=True
    )
    await run(settings)


async def _bridge(settings: Settings) -> None:
    from fleetcore.site_token import require_site_token
    from ros_bridge.available import require_ros

    require_ros("`fleethub bridge`")
    require_site_token(settings, "`fleethub bridge`")
    from ros_bridge.app import run

    print(f"bridging this site's RMF (ROS 2) to {settings.resolved_hub_url}", flush=True)
    await run(settings)


async def _vda5050(settings: Settings) -> None:
    from fleetcore.site_token import require_site_token
    from vda5050.service import MasterControlService, health_app, mqtt_config, nav_graph, running

    require_site_token(settings, "`fleethub vda5050`")
    if not settings.mqtt_url:
        raise ConfigError(
            "`fleethub vda5050` needs the vehicles' broker: set FLEETHUB_MQTT_URL "
            "(mqtt://host:1883 or mqtts://host:8883)"
        )
    service = MasterControlService(settings, mqtt=mqtt_config(settings), graph=nav_graph(settings))
    await _serve(
        health_app(service),
        settings,
        "vda5050",
        lambda b: f"VDA 5050 master control on {b} (health, metrics)",
        beside=lambda port: running(service),
    )


async def _migrate(settings: Settings) -> None:
    from fleetcore.store.db import close_database, migrate, open_database

    await open_database(settings.resolved_database_url, apply_migrations=False, check=False)
    try:
        applied = await migrate()
    finally:
        await close_database()
    print(f"applied {', '.join(applied)}" if applied else "the database is up to date", flush=True)


_RUNNERS: dict[str, Callable[[Settings], Awaitable[None]]] = {
    "up": _up,
    "hub": _hub,
    "proxy": _proxy,
    "api": _api,
    "sim": _sim,
    "bridge": _bridge,
    "vda5050": _vda5050,
    "migrate": _migrate,
}
