"""Peak memory of a hub that is sent oversized ingest frames.

A ``fleethub up`` process (SQLite, in-process bus, one simulated robot) is
sent, over its real /_internal websocket:

1. ``--frames`` ``fleet_state_update`` frames of ``--mb`` MB each (thousands
   of robots: many small objects, the costly shape), ``type`` last as RMF's
   nlohmann::json writes it. Over ``ingest_max_frame_bytes`` (1 MB), they are
   refused as ``frame_too_large``.
2. then, as the baseline measured in the same run, one ``building_map_update``
   of the same size, which is allowed up to 16 MB and so is parsed and validated.

After each step the hub's peak resident memory (``VmHWM``) is read from
/proc. A hub that parses a frame before checking its type's limit grows for
step 1 about as much as for step 2; one that checks first grows by about the
frame's own bytes (the websocket message and its encoding).

Reproduce:
    .venv/bin/python bench/ingest_memory.py [--mb 15] [--frames 3] [--source DIR]

``--source`` runs the hub from another checkout (e.g. the main branch, for
the figures before the change).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

TOKEN = "bench-site-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb(pid: int, field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Start a new peak from the current resident size (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def peak_growth(pid: int, step: Any) -> tuple[float, Any]:
    """How far above its resident size before ``step`` the process peaked during it, in MB."""
    reset_peak(pid)
    before = memory_mb(pid, "VmRSS")
    result = await step
    return memory_mb(pid, "VmHWM") - before, result


def fleet_frame(size: int) -> bytes:
    robot: dict[str, Any] = {
        "status": "idle",
        "task_id": "",
        "unix_millis_time": 1,
        "battery": 0.5,
        "location": {"map": "L1", "x": 1.0, "y": 2.0, "yaw": 0.0},
        "issues": [{"category": "x", "detail": {"a": [1, 2, 3]}}],
    }
    one = len(orjson.dumps(robot)) + 20
    robots = {f"r{i}": {**robot, "name": f"r{i}"} for i in range(size // one)}
    # nlohmann::json orders keys: "data" comes before "type".
    return orjson.dumps({"data": {"name": "big", "robots": robots}, "type": "fleet_state_update"})


def map_frame(size: int) -> bytes:
    vertex = {"x": 1.0, "y": 2.0, "name": "", "params": []}
    count = size // (len(orjson.dumps(vertex)) + 1)
    per_graph = 50_000
    graphs = [
        {"name": f"g{i}", "vertices": [vertex] * min(per_graph, count - i), "edges": []}
        for i in range(0, count, per_graph)
    ]
    level = {"name": "L1", "nav_graphs": graphs}
    return orjson.dumps({"data": {"name": "m", "levels": [level]}, "type": "building_map_update"})


async def ready(base: str, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{base} did not become ready")


async def send(base: str, frame: bytes) -> str:
    """Send one frame; its rejection reason, or "accepted" once the hub's next answer shows
    it was taken (a marker frame of an unknown type is answered after it)."""
    url = base.replace("http", "ws", 1) + f"/_internal?token={TOKEN}"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(frame.decode())
        await ws.send_str('{"type": "bench_marker", "data": {}}')
        answer = orjson.loads((await ws.receive(timeout=300)).data)
        if "bench_marker" in answer.get("detail", ""):
            return "accepted"
        return str(answer["error"])


async def run(args: argparse.Namespace, source: str | None) -> None:
    size = int(args.mb * (1 << 20))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "FLEETHUB_DATA_DIR": data_dir,
            "FLEETHUB_API_PORT": str(port),
            "FLEETHUB_INGEST_TOKEN": TOKEN,
            "FLEETHUB_SIM_ROBOTS": "1",
            "FLEETHUB_SIM_AUTO_TASKS_S": "0",
        }
        if source:
            env["PYTHONPATH"] = source
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fleethub",
            "up",
            env=env,
            cwd=source,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await ready(base)
            fleet, building = fleet_frame(size), map_frame(size)
            resident = memory_mb(proc.pid, "VmRSS")
            grew_fleet, answers = await peak_growth(
                proc.pid, asyncio.gather(*(send(base, fleet) for _ in range(args.frames)))
            )
            grew_map, answer_map = await peak_growth(proc.pid, send(base, building))
        finally:
            proc.terminate()
            await proc.wait()
    print(f"hub from {source or 'this checkout'}: resident {resident:.0f} MB when ready")
    print(
        f"{args.frames} fleet_state_update of {len(fleet) / (1 << 20):.1f} MB at once "
        f"({', '.join(sorted(set(answers)))}): peak +{grew_fleet:.0f} MB"
    )
    print(
        f"baseline, 1 building_map_update of {len(building) / (1 << 20):.1f} MB "
        f"({answer_map}): peak +{grew_map:.0f} MB"
    )
    print(f"ratio: {grew_fleet / grew_map:.2f} (oversized non-map frames / one parsed map)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=15.0, help="size of each frame in MB")
    parser.add_argument("--frames", type=int, default=3, help="oversized fleet frames to send")
    parser.add_argument("--source", help="run the hub from this checkout instead")
    args = parser.parse_args()
    asyncio.run(run(args, os.path.abspath(args.source) if args.source else None))


if __name__ == "__main__":
    main()
