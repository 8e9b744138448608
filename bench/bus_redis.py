"""What the Redis bus's guarantees cost, against plain pipelined XADD on the same Redis.

Two measurements, each for the bus and for the baseline in the same run:

- publish throughput: batches of 100 publications of ~1 KB (mixed state and
  log rooms); the bus runs one Lua script per batch (stream entry, sticky
  value or log window, top), the baseline one pipeline of 100 XADDs;
- publish → listener latency at a steady rate (default 1,000/s, one
  publication per batch, as the hub publishes under light load): the bus's
  tail in a second bus instance vs a bare XREAD BLOCK loop; both parse the
  envelope, so the difference is the bus's own work.

Reproduce (Redis on loopback; keys under a throwaway prefix, deleted after)::

    .venv/bin/python bench/bus_redis.py [--url redis://127.0.0.1:6379/0]
        [--batches 200] [--rate 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import redis.asyncio

from fleetcore.bus.redis import RedisStreamsBus
from fleetcore.contract.envelope import Publication

ROOMS = (
    "/fleets/f0/state",
    "/fleets/f1/state",
    "/fleets/f2/state",
    "/fleets/f3/state",
    "/tasks/t1/log",
)
PAD = "x" * 900


def publication(seq: int) -> Publication:
    data = orjson.dumps({"t": time.perf_counter_ns(), "seq": seq, "pad": PAD})
    return Publication(ROOMS[seq % len(ROOMS)], seq, 1, int(time.time() * 1000), data)


async def throughput(
    publish: Callable[[list[Publication]], Awaitable[None]], batches: int
) -> float:
    """Publications per second over ``batches`` batches of 100."""
    seq = 0
    started = time.perf_counter()
    for _ in range(batches):
        batch = [publication(seq + i + 1) for i in range(100)]
        seq += 100
        await publish(batch)
    return batches * 100 / (time.perf_counter() - started)


async def latency(
    publish: Callable[[list[Publication]], Awaitable[None]],
    received: list[int],
    rate: float,
    seconds: float,
    first_seq: int,
) -> list[float]:
    """Publish one publication every 1/rate s; return each one's latency in ms."""
    count = int(rate * seconds)
    start = time.perf_counter()
    for n in range(count):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish([publication(first_seq + n)])
    deadline = time.perf_counter() + 10
    while len(received) < count and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    return [ns / 1e6 for ns in received[:count]]


def note_latencies(received: list[int], batch: Sequence[Publication]) -> None:
    now = time.perf_counter_ns()
    for pub in batch:
        received.append(now - orjson.loads(pub.data_json)["t"])


class Baseline:
    """Plain XADD, pipelined, no Lua, no sticky values; and a bare XREAD BLOCK reader."""

    def __init__(self, url: str, prefix: str) -> None:
        self._writer = redis.asyncio.Redis.from_url(url)
        self._reader = redis.asyncio.Redis.from_url(url, single_connection_client=True)
        self._key = f"{prefix}:baseline"

    async def publish(self, batch: list[Publication]) -> None:
        pipe = self._writer.pipeline(transaction=False)
        for pub in batch:
            pipe.xadd(self._key, {"e": pub.envelope_json()}, id=f"{pub.seq}-0")
        await pipe.execute()

    async def tail(self, received: list[int], after: int, stop: asyncio.Event) -> None:
        last = f"{after}-0"
        while not stop.is_set():
            streams: Any = await self._reader.xread({self._key: last}, count=500, block=100)
            if not streams:
                continue
            entries = streams[0][1]
            last = entries[-1][0]
            note_latencies(
                received, [Publication.from_envelope_json(fields[b"e"]) for _, fields in entries]
            )

    async def reset(self) -> None:
        await self._writer.delete(self._key)

    async def aclose(self) -> None:
        await self._reader.aclose()
        await self._writer.aclose()


def summary(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return statistics.median(samples), cuts[98]


async def main(url: str, batches: int, rate: float, seconds: float) -> None:
    prefix = f"fleethub-bench-{secrets.token_hex(4)}"
    raw = redis.asyncio.Redis.from_url(url)
    baseline = Baseline(url, prefix)
    hub = RedisStreamsBus(url, prefix=prefix)
    reader = RedisStreamsBus(url, prefix=prefix)
    try:
        await hub.start()
        base_rate = await throughput(baseline.publish, batches)
        bus_rate = await throughput(hub.publish, batches)
        top = batches * 100

        await baseline.reset()
        base_received: list[int] = []
        stop = asyncio.Event()
        tail = asyncio.create_task(baseline.tail(base_received, top, stop))
        base_lat = await latency(baseline.publish, base_received, rate, seconds, top + 1)
        stop.set()
        await tail

        bus_received: list[int] = []

        async def listener(batch: Sequence[Publication]) -> None:
            note_latencies(bus_received, batch)

        reader.add_listener(listener)
        await reader.start()
        bus_lat = await latency(hub.publish, bus_received, rate, seconds, top + 1)
    finally:
        await reader.aclose()
        await hub.aclose()
        await baseline.aclose()
        keys = [k async for k in raw.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await raw.delete(*keys)
        await raw.aclose()

    (b50, b99), (r50, r99) = summary(base_lat), summary(bus_lat)
    print(f"Redis bus vs pipelined XADD on {url} (pid {os.getpid()})")
    print(f"publish, batches of 100 x ~1 KB ({batches} batches):")
    print(f"  baseline XADD pipeline   {base_rate:>10,.0f} pubs/s")
    print(
        f"  RedisStreamsBus.publish  {bus_rate:>10,.0f} pubs/s   ratio {bus_rate / base_rate:.2f}"
    )
    print(f"publish -> listener at {rate:,.0f}/s for {seconds:g} s:")
    print(f"  baseline XREAD           p50 {b50:6.2f} ms   p99 {b99:6.2f} ms")
    print(
        f"  RedisStreamsBus tail     p50 {r50:6.2f} ms   p99 {r99:6.2f} ms"
        f"   ratio p50 {r50 / b50:.2f}  p99 {r99 / b99:.2f}"
    )
    print(
        f"  delivered {len(bus_received)}/{int(rate * seconds)} (bus), "
        f"{len(base_received)}/{int(rate * seconds)} (baseline)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("FLEETHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.batches, args.rate, args.seconds))
