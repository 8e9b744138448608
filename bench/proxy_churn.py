"""Does a proxy give its memory back? 1,000 clients that come and go at 20 per second.

Starts one proxy as ``bench/fanout`` does (``bench.fanout.servers``, its own
process, on an in-memory bus with a publisher), under ``bench/memprobe`` so
its heap can be counted by type. ``--server filtered`` (the default) has
authentication on, five users each reading one robot, as a site runs it;
``ours`` has it off. Then, with the bench/fanout light websocket clients
(``bench.fanout.client``) in this process:

1. the empty proxy's RSS (from /proc): the first baseline;
2. ``--clients`` (1,000) connect and subscribe to the fleet's state, which
   is published ``--rate`` times a second throughout;
3. for ``--minutes`` (10), ``--churn`` (20) clients a second leave and as
   many new ones connect, so the proxy always holds about ``--clients``. The
   leavers take turns: a socket.io disconnect then close, an abrupt close of
   the TCP connection, and a client that gives up while the proxy is still
   authenticating it (it closes right after asking to connect);
4. every ``--every`` seconds (30) it prints the proxy's RSS and the messages
   delivered per second; the RSS after the first ``--warmup`` seconds (60)
   is the second baseline;
5. all clients leave; the proxy's RSS empty again.

It prints end / warm-up (the goal: within ±10 %) and empty after / empty
before, and, from a probe of the proxy's heap before the clients came and
after they left, the object types whose live count grew: a structure kept
per client shows up there as a count near the number of clients that came.

Reproduce:
    .venv/bin/python -m bench.proxy_churn                 # 1,000 clients, 20/s, 10 minutes
    .venv/bin/python -m bench.proxy_churn --minutes 3 --server ours
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.fanout.client import SocketIOClient, Stats, connect_all, masked_text_frame
from bench.fanout.run import ROOM, Server, base_payload, get_json, rss_mb, server
from bench.fanout.servers import raise_fd_limit
from bench.memprobe import Prober, growth

SETTLE_S = 120.0
"""Longest wait for the proxy to let go of clients that left (ping interval + timeout is 40 s)."""
LEAVES = ("disconnect", "close", "abandon")
"""How clients leave, in turn: socket.io disconnect, TCP close, gone while authenticating."""


class AbandoningClient(SocketIOClient):
    """Asks to connect to the socket.io namespace, then closes at once, before the answer."""

    def _control(self, packet: bytes) -> None:
        super()._control(packet)
        if packet.startswith(b"0") and self._transport is not None:
            self._transport.close()
            if not self.subscribed.done():
                self.subscribed.set_result(None)


class Crowd:
    """The connected clients, oldest first, and the ways they leave."""

    def __init__(self, srv: Server, tokens: list[str]) -> None:
        self._srv = srv
        self._tokens = itertools.cycle(tokens or [""])
        self.stats = Stats()
        self.clients: list[asyncio.Transport] = []
        self.came = 0
        self.replaced = 0

    async def grow(self, count: int) -> None:
        tokens = [next(self._tokens) for _ in range(count)]
        transports = await connect_all(
            lambda h, p, r, s, t: SocketIOClient(h, p, r, s, t or None),
            "127.0.0.1", self._srv.port, ROOM, count, self.stats, tokens,
        )  # fmt: skip
        self.clients += transports
        self.came += count

    async def replace_one(self, how: str) -> None:
        """The oldest client leaves ``how``; a new one connects (and subscribes)."""
        transport = self.clients.pop(0)
        if how == "disconnect":
            transport.write(masked_text_frame(b"41"))
        transport.close()
        if how == "abandon":
            await self._abandon_one()
        await self.grow(1)
        self.replaced += 1

    async def _abandon_one(self) -> None:
        loop = asyncio.get_running_loop()
        token = next(self._tokens) or None
        _transport, client = await loop.create_connection(
            lambda: AbandoningClient("127.0.0.1", self._srv.port, ROOM, self.stats, token),
            "127.0.0.1",
            self._srv.port,
        )
        await client.subscribed
        self.came += 1

    def leave_all(self) -> None:
        for transport in self.clients:
            transport.close()
        self.clients.clear()


def leave_modes() -> Iterator[str]:
    return itertools.cycle(LEAVES)


async def churn(crowd: Crowd, srv: Server, args: argparse.Namespace) -> tuple[float, float]:
    """Replace ``--churn`` clients a second for ``--minutes``; RSS after warm-up and at the end."""
    pid = srv.process.pid
    start = time.monotonic()
    modes = leave_modes()
    warm: float | None = None
    next_report = start + args.every
    last_count = crowd.stats.count
    print(f"{'minute':>7} {'RSS MB':>8} {'/warm':>6} {'clients':>8} {'came':>7} {'msg/s':>8}  load")
    for n in itertools.count():
        now = time.monotonic()
        if now - start >= args.minutes * 60:
            break
        await asyncio.sleep(max(0.0, start + n / args.churn - now))
        await crowd.replace_one(next(modes))
        if time.monotonic() >= next_report:
            elapsed = time.monotonic() - start
            rss = rss_mb(pid)
            if warm is None and elapsed >= args.warmup:
                warm = rss
            rate = (crowd.stats.count - last_count) / args.every
            last_count = crowd.stats.count
            ratio = f"{rss / warm:.3f}" if warm else ""
            print(f"{elapsed / 60:>7.1f} {rss:>8.1f} {ratio:>6} {len(crowd.clients):>8} "
                  f"{crowd.came:>7} {rate:>8.0f}  {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
            next_report += args.every
    if warm is None:
        raise SystemExit("the churn ended before its warm-up: no baseline (raise --minutes)")
    return warm, rss_mb(pid)


async def settle(prober: Prober, sockets: int) -> tuple[dict[str, Any], float]:
    """Probe until the proxy holds at most one engine.io socket more than ``sockets``; the last
    probe and how long it took.

    engine.io lets go of a closed socket at its next ping sweep, which walks a copy
    of its sockets for ``ping_timeout`` (20 s), and its loop variable holds on to the
    last socket it looked at until the next sweep: one socket, however many came.
    """
    start = time.monotonic()
    while True:
        probe = await asyncio.to_thread(prober.take)
        if engine_sockets(probe) <= sockets + 1 or time.monotonic() - start > SETTLE_S:
            return probe, time.monotonic() - start
        await asyncio.sleep(1.0)


def engine_sockets(probe: dict[str, Any]) -> int:
    return int(probe["types"].get("AsyncSocket", 0))


async def main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    probes = Path(tempfile.mkdtemp(prefix="fleethub-probes-"))
    wrapper = ["-m", "bench.memprobe", str(probes)]
    print(f"load before: {os.getloadavg()}; {os.cpu_count()} cores", flush=True)
    with server(args.server, base_payload(), wrapper) as srv:
        pid = srv.process.pid
        tokens: list[str] = []
        if args.server == "filtered":
            tokens = (await asyncio.to_thread(get_json, f"{srv.url}/bench/tokens", 10))["tokens"]
        # One client comes and goes first, so that what the first connection
        # creates once (imports, caches) is in the empty baseline.
        prober = Prober(pid, probes)
        idle = await asyncio.to_thread(prober.take)
        crowd = Crowd(srv, tokens)
        await crowd.grow(1)
        crowd.leave_all()
        before, _ = await settle(prober, engine_sockets(idle))
        empty_before = rss_mb(pid)
        seconds = args.minutes * 60 + 120
        publishing = asyncio.create_task(
            srv.run(f"mode=paced&rate={args.rate}&seconds={seconds}", seconds)
        )
        await crowd.grow(args.clients)
        full = rss_mb(pid)
        print(f"empty proxy {empty_before:.1f} MB; with {args.clients} clients {full:.1f} MB",
              flush=True)  # fmt: skip
        warm, end = await churn(crowd, srv, args)
        crowd.leave_all()
        publishing.cancel()
        after, settled_s = await settle(prober, engine_sockets(before))
        empty_after = rss_mb(pid)
        await asyncio.to_thread(prober.take, True)
        trimmed = rss_mb(pid)
    print(
        f"\n{crowd.came} clients came and went ({crowd.replaced / (args.minutes * 60):.1f}"
        f" replaced/s, asked {args.churn}) over {args.minutes} min "
        f"({args.server} proxy, {args.rate} updates/s)\n"
        f"RSS with {args.clients} clients: after warm-up {warm:.1f} MB, at the end {end:.1f} MB: "
        f"end / warm-up {end / warm:.3f}\n"
        f"RSS empty: before {empty_before:.1f} MB, {settled_s:.0f} s after the last left "
        f"{empty_after:.1f} MB: "
        f"after / before {empty_after / empty_before:.3f}; after the allocator handed its free "
        f"memory back (malloc_trim) {trimmed:.1f} MB: {trimmed / empty_before:.3f}"
    )
    print("object types whose count grew from the empty proxy to the empty proxy again:")
    for line in growth(before, after):
        print(line)
    print(f"load after: {os.getloadavg()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", choices=("filtered", "ours"), default="filtered")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--churn", type=float, default=20.0, help="clients replaced per second")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--rate", type=float, default=2.0, help="state updates published per second"
    )
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
