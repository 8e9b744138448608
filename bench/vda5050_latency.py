"""VDA 5050 state → socket.io room latency and the master control's memory, vehicles at 2 Hz.

Runs a private Mosquitto, the embedded system (hub, proxy, REST) in a process
of its own, and ``fleethub vda5050`` as another (so each one's memory and CPU
are its own). The vehicles publish from four more processes and the observer
runs in this one: as on a site, no part shares an event loop with another
(200 vehicles in the observer's loop delayed what it saw by up to ~100 ms,
the raw baseline's p99 included). ``--vehicles`` MQTT clients each publish a VDA 5050 state at ``--rate``
Hz for ``--seconds``; every state carries a new ``agvPosition.x``, and a
socket.io client subscribed to ``/fleets/vda5050/state`` notes when each
(vehicle, x) first shows up in the room. Reported:

- state → room latency p50/p99 (publish on the broker to the fleet state in
  the room, through the master control, the hub's ingest, derive, store and
  publish, and the proxy), over the whole run and without the first
  ``ARRIVAL_S`` seconds, when every vehicle appears at once (registered,
  its first state derived and stored; the embedded system's one SQLite
  connection is busiest then);
- the baseline measured in the same run, before: the same vehicles and rate
  publishing raw MQTT messages to one subscriber on the same broker (the
  broker's round trip, the floor under the path);
- the master control process's resident memory (RSS) after the run, and
  with no vehicles; its CPU and the embedded system's, in % of a core.

Reproduce: .venv/bin/python bench/vda5050_latency.py --vehicles 50 --rate 2 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import socketio
from aiohttp import web

from fleetcore.contract.vda5050 import encode, v2
from fleetcore.heap import freeze_startup_heap
from fleetcore.settings import Settings
from fleethub.embedded import create_app

TOKEN = "bench-site-token-" + "x" * 32


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def mosquitto(workdir: Path) -> AsyncIterator[int]:
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n"
        "max_queued_messages 100000\n"
    )
    binary = shutil.which("mosquitto")
    if binary is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)
    try:
        yield port
    finally:
        proc.terminate()
        await proc.wait()


def state(serial: str, header: int, x: float) -> bytes:
    return encode(
        v2.State(
            headerId=header,
            timestamp=datetime.now(UTC),
            version="2.1.0",
            manufacturer="bench",
            serialNumber=serial,
            orderId="",
            orderUpdateId=0,
            lastNodeId="",
            lastNodeSequenceId=0,
            driving=True,
            operatingMode="AUTOMATIC",
            nodeStates=[],
            edgeStates=[],
            agvPosition=v2.AgvPosition(x=x, y=5.0, theta=0.0, mapId="L1", positionInitialized=True),
            actionStates=[],
            batteryState=v2.BatteryState(batteryCharge=80.0, charging=False),
            errors=[],
            safetyState=v2.SafetyState(eStop="NONE", fieldViolation=False),
        )
    )


PUBLISHER_PROCESSES = 4
"""The vehicles publish from processes of their own (a site's vehicles are other machines):
200 MQTT clients in the observer's event loop delayed what it observed by up to ~100 ms."""

Sent = dict[tuple[str, float], float]
"""When each (vehicle, x) was published: ``time.monotonic``, one clock for every process."""
ARRIVAL_S = 2.0
"""The start of a run in which the vehicles appear, reported apart from the rest."""


async def publish_some(
    port: int, indices: range, vehicles: int, rate: float, seconds: float, topic_of: str
) -> Sent:
    """Vehicles ``indices`` of ``vehicles`` publish a state with a fresh x every 1/rate s,
    staggered over the period."""
    sent: Sent = {}

    async def one(i: int) -> None:
        serial = f"b{i}"
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier=f"bench-{serial}-{topic_of}"
        ) as client:
            if topic_of == "state":
                connection = v2.Connection(
                    headerId=0,
                    timestamp=datetime.now(UTC),
                    version="2.1.0",
                    manufacturer="bench",
                    serialNumber=serial,
                    connectionState="ONLINE",
                )
                await client.publish(
                    f"uagv/v2/bench/{serial}/connection", encode(connection), qos=1, retain=True
                )
            await asyncio.sleep(i / vehicles / rate)
            end = time.monotonic() + seconds
            k = 0
            while time.monotonic() < end:
                k += 1
                x = round(1.0 + k * 0.01, 3)
                sent[(serial, x)] = time.monotonic()
                topic = (
                    f"uagv/v2/bench/{serial}/state"
                    if topic_of == "state"
                    else f"bench/raw/{serial}"
                )
                await client.publish(topic, state(serial, k, x))
                await asyncio.sleep(1.0 / rate)

    await asyncio.gather(*(one(i) for i in indices))
    return sent


def _publisher_process(out: multiprocessing.Queue[Sent], *args: Any) -> None:
    out.put(asyncio.run(publish_some(*args)))


async def publishers(port: int, vehicles: int, rate: float, seconds: float, topic_of: str) -> Sent:
    """All vehicles, spread over :data:`PUBLISHER_PROCESSES` processes; when each state went."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[Sent] = context.Queue()
    processes = [
        context.Process(
            target=_publisher_process,
            args=(
                out,
                port,
                range(first, vehicles, PUBLISHER_PROCESSES),
                vehicles,
                rate,
                seconds,
                topic_of,
            ),
            daemon=True,
        )
        for first in range(min(PUBLISHER_PROCESSES, vehicles))
    ]
    for process in processes:
        process.start()
    sent: Sent = {}
    for _ in processes:
        sent.update(await asyncio.to_thread(out.get))
    for process in processes:
        await asyncio.to_thread(process.join)
    return sent


def latencies(sent: Sent, seen: Sent, after_s: float = 0.0) -> list[float]:
    """From publishing each state to its first arrival, for those that arrived and were
    published ``after_s`` or more after the first."""
    since = min(sent.values(), default=0.0) + after_s
    return [seen[key] - start for key, start in sent.items() if key in seen and start >= since]


async def baseline(port: int, args: argparse.Namespace) -> list[float]:
    seen: Sent = {}
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-raw-subscriber") as sub:
        await sub.subscribe("bench/raw/+")

        async def receive() -> None:
            async for message in sub.messages:
                now = time.monotonic()
                doc = orjson.loads(message.payload)
                seen.setdefault((doc["serialNumber"], doc["agvPosition"]["x"]), now)

        reader = asyncio.create_task(receive())
        sent = await publishers(port, args.vehicles, args.rate, args.seconds, "raw")
        await asyncio.sleep(0.5)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return latencies(sent, seen)


def cpu_s(pid: int) -> float:
    """User and system CPU seconds process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def through_fleethub(
    port: int, base: str, workdir: Path, args: argparse.Namespace
) -> tuple[list[float], list[float], float, float, float]:
    vda_port = free_port()
    env = {
        **os.environ,
        "FLEETHUB_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "FLEETHUB_HUB_URL": base,
        "FLEETHUB_INGEST_TOKEN": TOKEN,
        "FLEETHUB_DATA_DIR": str(workdir / "master-control"),
        "FLEETHUB_VDA5050_PORT": str(vda_port),
        "FLEETHUB_LOG_LEVEL": "WARNING",
    }
    master = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleethub", "vda5050", env=env
    )
    await asyncio.sleep(3.0)
    idle_rss = rss_mb(master.pid)
    seen: Sent = {}
    frames = 0
    sio = socketio.AsyncClient(reconnection=False)

    async def on_fleet(data: dict[str, object]) -> None:
        nonlocal frames
        now = time.monotonic()
        frames += 1
        robots = data.get("robots", {})
        assert isinstance(robots, dict)
        for name, robot in robots.items():
            seen.setdefault((name, robot["location"]["x"]), now)

    sio.on("/fleets/vda5050/state", on_fleet)
    await sio.connect(base, transports=["websocket"])
    await sio.call("subscribe", {"room": "/fleets/vda5050/state"}, timeout=5)
    try:
        cpu = cpu_s(master.pid)
        sent = await publishers(port, args.vehicles, args.rate, args.seconds, "state")
        cpu = cpu_s(master.pid) - cpu
        await asyncio.sleep(1.0)
        busy_rss = rss_mb(master.pid)
    finally:
        await sio.disconnect()
        master.terminate()
        await master.wait()
    print(
        f"  states published {len(sent)}, seen in the room {len(sent.keys() & seen.keys())},"
        f" in {frames} fleet states ({frames / args.seconds:.1f} a second)"
    )
    return latencies(sent, seen), latencies(sent, seen, ARRIVAL_S), idle_rss, busy_rss, cpu


def serve_embedded(workdir: Path, ports: multiprocessing.Queue[int]) -> None:
    """The embedded system as ``fleethub`` serves it (its runner, its frozen start-up heap),
    in this child process until it is terminated; its port goes to ``ports``."""
    settings = Settings(
        data_dir=workdir,
        auth_mode="off",
        ingest_token=TOKEN,
        sim_auto_tasks_s=0,
        derive_restart_grace_s=3600,
    )

    async def run() -> None:
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        freeze_startup_heap()
        ports.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run())


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[int(q * (len(ordered) - 1))] if ordered else float("nan")


async def measure(args: argparse.Namespace) -> dict[str, float]:
    """The run's figures (also for ``bench/vda5050_traffic.py``): latencies in ms, CPU in %."""
    workdir = Path(tempfile.mkdtemp(prefix="fleethub-bench-vda-"))
    ports = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_embedded, args=(workdir, ports), daemon=True
    )
    server.start()
    try:
        base = f"http://127.0.0.1:{await asyncio.to_thread(ports.get, True, 60)}"
        async with mosquitto(workdir) as port:
            raw = await baseline(port, args)
            embedded_cpu = cpu_s(server.pid)  # type: ignore[arg-type]
            path, settled, idle, busy, cpu = await through_fleethub(port, base, workdir, args)
            embedded_cpu = cpu_s(server.pid) - embedded_cpu  # type: ignore[arg-type]
    finally:
        server.terminate()
        server.join()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "state_to_room_p50_ms": percentile(path, 0.5) * 1000,
        "state_to_room_p99_ms": percentile(path, 0.99) * 1000,
        "state_to_room_after_arrival_p50_ms": percentile(settled, 0.5) * 1000,
        "state_to_room_after_arrival_p99_ms": percentile(settled, 0.99) * 1000,
        "raw_mqtt_p50_ms": percentile(raw, 0.5) * 1000,
        "raw_mqtt_p99_ms": percentile(raw, 0.99) * 1000,
        "master_cpu_percent_mqtt": 100 * cpu / args.seconds,
        "embedded_cpu_percent": 100 * embedded_cpu / args.seconds,
        "master_rss_idle_mb": idle,
        "master_rss_busy_mb": busy,
    }


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"{args.vehicles} vehicles at {args.rate} Hz for {args.seconds} s")
    figures = await measure(args)
    print(
        "baseline, raw MQTT round trip on the same broker:"
        f" p50 {figures['raw_mqtt_p50_ms']:.1f} ms / p99 {figures['raw_mqtt_p99_ms']:.1f} ms"
    )
    print(
        "state -> room through fleethub:               "
        f" p50 {figures['state_to_room_p50_ms']:.1f} ms / p99 {figures['state_to_room_p99_ms']:.1f} ms"
    )
    print(
        f"  after the first {ARRIVAL_S:.0f} s (the vehicles appearing):     "
        f" p50 {figures['state_to_room_after_arrival_p50_ms']:.1f} ms"
        f" / p99 {figures['state_to_room_after_arrival_p99_ms']:.1f} ms"
    )
    ratio = figures["state_to_room_p50_ms"] / figures["raw_mqtt_p50_ms"]
    print(f"  p50 ratio to the baseline: {ratio:.1f}x")
    print(
        f"master control RSS: {figures['master_rss_idle_mb']:.0f} MB with no vehicles,"
        f" {figures['master_rss_busy_mb']:.0f} MB with {args.vehicles};"
        f" CPU {figures['master_cpu_percent_mqtt']:.0f} % of a core"
    )
    print(
        "embedded system (hub, proxy, REST) CPU while the vehicles published:"
        f" {figures['embedded_cpu_percent']:.0f} % of a core"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    asyncio.run(main(parser.parse_args()))
