"""bench/fanout: socket.io fan-out of 1 KB state updates, our proxy against two baselines.

What it measures, in ONE run, for each client count (default 100 and 1,000;
``--sizes 100,1000,5000`` for the big one) and each server:

- **ours**: the real proxy (``proxy.app.create_app``) on an ``InMemoryBus`` that
  a publisher task in the proxy process publishes to, as the hub does, with
  authentication off: every client is an admin, the unfiltered path;
- **filtered** (``--servers ours,filtered,...``): the same proxy with
  authentication on, each client one of five users who read one robot each of
  the five, so every update is filtered into five views (each once);
- **stock**: python-socketio 5, ``enter_room`` + ``emit(room, data, to=room)``;
- **node**: Node.js socket.io 4 (``bench/fanout/node``, installed with ``npm ci``);
- **graphql**: the API process's ``fleetState`` subscription over
  graphql-transport-ws (``bench/graphql_fanout.py`` runs it against ``ours``).

Every server runs in its own process; the clients, all subscribed to one room
on 127.0.0.1, are spread over ``--procs`` client processes
(``bench.fanout.client``, bare websocket socket.io clients that cost far less
per message than any server). Two figures per server and size:

1. **delivered messages/s, flat out**: the server publishes back to back for
   ``--flat-seconds``; messages the clients receive in that window (after a
   ``--warmup``), summed over all clients, divided by its length. A server that
   buffers cannot look faster than it writes; ours coalesces state for a
   client that falls behind, so it never delivers more than was published.
2. **publish-to-receive latency, p50/p99**, at ``--rate`` updates/s (10) for
   ``--paced-seconds``: the publish time travels in the payload, and the
   clients share the machine's clock.

``--idle 10000`` also measures each server's resident memory (RSS) holding that
many idle subscribed clients (``--idle-servers ours`` by default); with two or
more counts (``--idle 5000,18000``) also the memory a client takes and a
projection to 50,000 (a process may hold at most ``ulimit -Hn`` sockets).

A third figure, robust to the machine's load, is each server's CPU time (user
and system, from ``/proc``) over the flat-out phase per message delivered.

Ratios are ours / baseline. Only compare figures taken in the same run: the
machine is shared and absolute numbers drift.

Run (from the repository root)::

    .venv/bin/python -m bench.fanout.run                                 # 100, 1,000: a few minutes
    .venv/bin/python -m bench.fanout.run --sizes 100,1000,5000 --idle 10000
    .venv/bin/python -m bench.fanout.run --servers ours,filtered,stock     # the filtered path
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE_DIR = HERE / "node"
ROOM = "/fleets/bench/state"
SERVERS = ("ours", "filtered", "stock", "node", "graphql")
DEFAULT_SERVERS = "ours,stock,node"
READY_TIMEOUT = 120.0
"""The API process migrates its database before it serves: slow on a loaded machine."""
QUIET_TIMEOUT = 60.0
PROJECTED_IDLE = 50_000
"""Idle clients the memory a client is projected to: more than a process may open here."""


def base_payload() -> dict[str, Any]:
    """A fleet state of five robots, padded so the payload with its ``t`` is 1 KiB."""
    robots = {
        f"r{i}": {
            "name": f"r{i}",
            "status": "working",
            "battery": 0.87,
            "location": {"map": "L1", "x": 12.25 + i, "y": -3.5, "yaw": 1.57},
        }
        for i in range(5)
    }
    payload: dict[str, Any] = {"name": "bench", "robots": robots, "pad": ""}
    size = len(json.dumps({"t": time.time(), **payload}, separators=(",", ":")))
    payload["pad"] = "x" * (1024 - size)
    return payload


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process: robust to the machine's load, unlike msg/s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def npm_ci() -> None:
    if (NODE_DIR / "node_modules" / "socket.io").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed for the Node.js baseline")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)


def get_json(url: str, timeout: float) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def run(self, query: str, seconds: float) -> dict[str, Any]:
        """Run a publishing phase; a server that cannot keep its schedule takes longer."""
        timeout = seconds * 10 + 60
        return await asyncio.to_thread(get_json, f"{self.url}/bench/run?{query}", timeout)


@contextmanager
def server(kind: str, payload: dict[str, Any], wrapper: Sequence[str] = ()) -> Iterator[Server]:
    """Start one server; ``wrapper`` goes before a Python server's module (``bench/memprobe``'s)."""
    port = free_port()
    base = json.dumps(payload)
    if kind == "node":
        argv = ["node", str(NODE_DIR / "server.js"), str(port), ROOM, base]
    else:
        module = [*wrapper, "bench.fanout.servers"] if wrapper else ["-m", "bench.fanout.servers"]
        argv = [sys.executable, *module, kind, str(port), ROOM, base]
    process = subprocess.Popen(argv, cwd=ROOT)
    srv = Server(kind, port, process)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                get_json(f"{srv.url}/bench/ready", 1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{kind} server did not start") from None
                time.sleep(0.1)
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class ClientProcess:
    process: asyncio.subprocess.Process

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        return await self.answer()

    async def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), READY_TIMEOUT * 2)
        if not line:
            raise RuntimeError("a client process ended early")
        return json.loads(line)  # type: ignore[no-any-return]


@dataclass
class Clients:
    procs: list[ClientProcess] = field(default_factory=list)
    limit: ClassVar[int] = 2**24

    @classmethod
    async def start(cls, srv: Server, count: int, nprocs: int) -> Clients:
        clients = cls()
        share = [count // nprocs + (1 if i < count % nprocs else 0) for i in range(nprocs)]
        tokens: list[str] = []
        if srv.kind == "filtered":
            tokens = (await asyncio.to_thread(get_json, f"{srv.url}/bench/tokens", 10))["tokens"]
        for n in share:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.fanout.client",
                *(["--graphql"] if srv.kind == "graphql" else []), "127.0.0.1", str(srv.port),
                ROOM, str(n), *([",".join(tokens)] if tokens else []), cwd=ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=cls.limit,
            )  # fmt: skip
            clients.procs.append(ClientProcess(process))
        ready = await asyncio.gather(*(p.answer() for p in clients.procs))
        if sum(r["ready"] for r in ready) != count:
            raise RuntimeError(f"only {ready} of {count} clients subscribed")
        return clients

    async def ask_all(self, command: str) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(p.ask(command) for p in self.procs)))

    async def wait_quiet(self) -> None:
        """Until nothing more arrives for a second: a backlog must not leak into the next phase."""
        deadline = time.monotonic() + QUIET_TIMEOUT
        last = -1
        while time.monotonic() < deadline:
            total = sum(r["count"] for r in await self.ask_all("count"))
            if total == last:
                return
            last = total
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for p in self.procs:
            if p.process.returncode is None and p.process.stdin is not None:
                p.process.stdin.write(b"quit\n")
                await p.process.stdin.drain()
        for p in self.procs:
            await asyncio.wait_for(p.process.wait(), 30)


@dataclass
class Result:
    delivered: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    cpu_us_per_msg: float = 0.0
    """Server CPU time over the flat-out phase per message the clients received in it."""
    idle_rss_mb: float = 0.0
    error: str = ""


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def measure(srv: Server, count: int, args: argparse.Namespace) -> Result:
    clients = await Clients.start(srv, count, min(args.procs, count))
    try:
        await clients.ask_all("report")
        cpu_before = cpu_seconds(srv.process.pid)
        window = await srv.run(f"mode=flat&seconds={args.flat_seconds}", args.flat_seconds)
        await clients.wait_quiet()
        cpu = cpu_seconds(srv.process.pid) - cpu_before
        reports = await clients.ask_all("report")
        first, last = int((window["start"] + args.warmup) * 10), int(window["end"] * 10)
        received = sum(
            n for r in reports for bucket, n in r["buckets"].items() if first <= int(bucket) < last
        )
        result = Result(delivered=received / ((last - first) / 10))
        total = sum(n for r in reports for n in r["buckets"].values())
        result.cpu_us_per_msg = cpu / total * 1e6 if total else float("nan")
        await clients.ask_all("latency on")
        await srv.run(
            f"mode=paced&rate={args.rate}&seconds={args.paced_seconds}", args.paced_seconds
        )
        await clients.wait_quiet()
        latencies = [ms for r in await clients.ask_all("report") for ms in r["latencies_ms"]]
        expected = count * round(args.rate * args.paced_seconds)
        if len(latencies) < expected:
            result.error = f"paced: {len(latencies)} of {expected} messages arrived"
        result.p50, result.p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        return result
    finally:
        await clients.stop()


async def idle_rss(srv: Server, count: int, nprocs: int) -> float:
    clients = await Clients.start(srv, count, nprocs)
    try:
        await asyncio.sleep(2.0)
        return rss_mb(srv.process.pid)
    finally:
        await clients.stop()


def ratio(ours: float, base: float) -> str:
    return f"{ours / base:.2f}x" if base else "n/a"


def report(
    results: dict[tuple[str, int], Result], sizes: Sequence[int], idle: Sequence[int]
) -> None:
    print("\n== delivered messages/s, flat out (1 KB state, one room) ==")
    ratios = (("ours", "stock"), ("ours", "node"), ("filtered", "ours"))
    print(
        f"{'clients':>8} " + " ".join(f"{k:>10}" for k in SERVERS)
        + "".join(f" {a + '/' + b:>14}" for a, b in ratios)
    )  # fmt: skip
    for n in sizes:
        row = {k: results[(k, n)].delivered for k in SERVERS if (k, n) in results}
        print(
            f"{n:>8} " + " ".join(f"{row.get(k, 0):>10.0f}" for k in SERVERS)
            + "".join(f" {ratio(row.get(a, 0), row.get(b, 0)):>14}" for a, b in ratios)
        )  # fmt: skip
    print("\n== server CPU per delivered message, flat out, us (robust to the machine's load) ==")
    print(f"{'clients':>8} " + " ".join(f"{k:>10}" for k in SERVERS) + f" {'ours/node':>14}")
    for n in sizes:
        cpu = {k: results[(k, n)].cpu_us_per_msg for k in SERVERS if (k, n) in results}
        print(
            f"{n:>8} " + " ".join(f"{cpu.get(k, 0):>10.2f}" for k in SERVERS)
            + f" {ratio(cpu.get('ours', 0), cpu.get('node', 0)):>14}"
        )  # fmt: skip
    print("\n== publish-to-receive latency at 10 updates/s, ms (p50 / p99) ==")
    for n in sizes:
        cells = [
            f"{k} {results[(k, n)].p50:.1f} / {results[(k, n)].p99:.1f}"
            for k in SERVERS
            if (k, n) in results
        ]
        print(f"{n:>8}  " + "   ".join(cells))
    for (k, n), r in sorted(results.items()):
        if r.error:
            print(f"note: {k} at {n} clients: {r.error}")
    for count in idle:
        print(f"\n== resident memory with {count} idle subscribed clients (MB) ==")
        for k in SERVERS:
            if (k, -count) in results:
                print(f"{k:>8} {results[(k, -count)].idle_rss_mb:>8.0f}")
    if len(idle) > 1:
        low, high = min(idle), max(idle)
        print(f"\n== resident memory per idle client, {low} to {high} clients ==")
        for k in SERVERS:
            if (k, -low) in results and (k, -high) in results:
                low_mb, high_mb = results[(k, -low)].idle_rss_mb, results[(k, -high)].idle_rss_mb
                per_client = (high_mb - low_mb) / (high - low)
                projected = high_mb + per_client * (PROJECTED_IDLE - high)
                print(f"{k:>8} {per_client * 1024:>6.1f} kB a client; "
                      f"{projected:,.0f} MB projected at {PROJECTED_IDLE:,}")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    servers = [s for s in SERVERS if s in args.servers.split(",")]
    if "node" in servers:
        npm_ci()
    payload = base_payload()
    results: dict[tuple[str, int], Result] = {}
    print(f"load before: {os.getloadavg()}; {os.cpu_count()} cores", flush=True)
    for count in args.sizes:
        for kind in servers:  # interleaved per size, so drift hits every server alike
            try:
                with server(kind, payload) as srv:
                    r = await measure(srv, count, args)
            except (OSError, RuntimeError, TimeoutError) as exc:
                r = Result(error=f"failed: {exc!r}")
            results[(kind, count)] = r
            print(f"{kind:>6} {count:>6} clients: {r.delivered:>9.0f} msg/s, "
                  f"p50 {r.p50:.1f} ms, p99 {r.p99:.1f} ms, "
                  f"{r.cpu_us_per_msg:.2f} us CPU/msg {r.error}", flush=True)  # fmt: skip
    for count in args.idle:
        for kind in [s for s in SERVERS if s in args.idle_servers.split(",")]:
            with server(kind, payload) as srv:
                before = rss_mb(srv.process.pid)
                rss = await idle_rss(srv, count, max(args.procs, count // 2500))
            results[(kind, -count)] = Result(idle_rss_mb=rss)
            print(f"{kind:>6} RSS {before:.0f} MB empty, {rss:.0f} MB with {count} clients",
                  flush=True)  # fmt: skip
    print(f"load after: {os.getloadavg()}")
    report(results, args.sizes, args.idle)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[100, 1000]
    )
    parser.add_argument("--servers", default=DEFAULT_SERVERS, help=f"of {','.join(SERVERS)}")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--flat-seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument(
        "--idle",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[],
        help="idle clients for the memory figure; two or more counts also give the memory a client",
    )
    parser.add_argument("--idle-servers", default="ours")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
