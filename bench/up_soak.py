"""Does `fleethub up` stay flat? Resident memory over an hour with simulated robots.

Starts `fleethub up` as `bench/embedded_up.py` does (a real process, fresh
data dir, logged in as the first-run admin) with ``--robots`` simulated
robots (200), under ``bench/memprobe`` so its heap can be counted by type.
While it runs, one socket.io client stays subscribed to every fleet's state
and a dashboard-like poller GETs /fleets and /tasks every few seconds. Every
``--every`` seconds (300) it prints the process's RSS and its anonymous part
(``RssAnon``, the heap: RSS also counts shared libraries, e.g. the video codecs
loaded the first time the simulator encodes a clip), from /proc, and the robot
updates delivered per second since the last sample.

Baselines, measured in the same run: the same process with 0 robots (RSS
after 30 s, so what the robots themselves cost is visible), and the first
sample after ``--warmup`` (caches and the SQLite page cache fill in the first
minutes; an unbounded structure keeps growing after). It prints end / warm-up
of both figures, their slopes (a least-squares line through the post-warm-up
samples, MB per hour), and the object types whose live
count grew most between the warm-up and the last probe (with
``--tracemalloc``, also the source lines whose allocations grew most; that
slows the process and inflates its RSS, so use it to diagnose, not to measure).

Reproduce (an hour; a shorter run to look for growth in the second line):
    .venv/bin/python -m bench.up_soak --robots 200 --minutes 60 --every 300
    .venv/bin/python -m bench.up_soak --robots 200 --minutes 10 --every 60 --warmup 120
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.embedded_up import FleetSubscriber, Up, fleethub_up, measure, rss_mb
from bench.memprobe import Prober, anon_mb, growth

POLL_S = 5.0


async def poll_like_a_dashboard(up: Up) -> None:
    """GET what the dashboard's first page reads, every few seconds, until cancelled."""
    async with aiohttp.ClientSession(headers=up.auth) as session:
        while True:
            for path in ("/fleets", "/tasks?limit=50"):
                async with session.get(up.base + path) as resp:
                    resp.raise_for_status()
                    await resp.read()
            await asyncio.sleep(POLL_S)


def slope_mb_per_h(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    n = len(samples)
    if n < 2:
        return float("nan")
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    num = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    den = sum((t - mean_t) ** 2 for t, _ in samples)
    return num / den * 3600


@dataclass
class Sample:
    seconds: float
    rss: float
    anon: float

    @classmethod
    def of(cls, pid: int, seconds: float) -> Sample:
        return cls(seconds, rss_mb(pid), anon_mb(pid))

    def row(self, warm: Sample | None, extra: str) -> str:
        ratios = (
            (f"{self.rss / warm.rss:.3f}", f"{self.anon / warm.anon:.3f}") if warm else ("", "")
        )
        return (
            f"{self.seconds / 60:>7.1f} {self.rss:>8.1f} {ratios[0]:>6} {self.anon:>8.1f} "
            f"{ratios[1]:>6} {extra:>9}  {os.getloadavg()[0]:.1f}"
        )


async def soak(args: argparse.Namespace, probes: Path) -> None:
    wrapper = ["-m", "bench.memprobe", str(probes)]
    if args.tracemalloc:
        os.environ["PYTHONTRACEMALLOC"] = "1"
    async with fleethub_up(args.robots, wrapper) as up:
        pid = up.proc.pid
        prober = Prober(pid, probes)
        subscriber = FleetSubscriber()
        await subscriber.connect(up)
        poller = asyncio.create_task(poll_like_a_dashboard(up))
        start = time.monotonic()
        samples: list[Sample] = []
        first_probe: dict[str, Any] | None = None
        last_updates = 0
        print(f"{'minute':>7} {'RSS MB':>8} {'/warm':>6} {'anon MB':>8} {'/warm':>6} "
              f"{'robots/s':>9}  load", flush=True)  # fmt: skip
        print(Sample.of(pid, 0.0).row(None, ""), flush=True)
        for n in range(1, int(args.minutes * 60 // args.every) + 1):
            await asyncio.sleep(max(0.0, start + n * args.every - time.monotonic()))
            if poller.done():
                poller.result()  # a poll that failed ends the run with its error
            sample = Sample.of(pid, time.monotonic() - start)
            rate = (subscriber.robots - last_updates) / args.every
            last_updates = subscriber.robots
            if first_probe is None and sample.seconds >= args.warmup:
                first_probe = await asyncio.to_thread(prober.take)
            if first_probe is not None:
                samples.append(sample)
            print(sample.row(samples[0] if samples else None, f"{rate:.0f}"), flush=True)
        poller.cancel()
        end = Sample.of(pid, time.monotonic() - start)
        last_probe = await asyncio.to_thread(prober.take) if first_probe else None
        await subscriber.sio.disconnect()
    if first_probe is None or last_probe is None:
        print("the run ended before its warm-up: no ratio")
        return
    warm = samples[0]
    print(
        f"\nafter warm-up ({warm.seconds / 60:.1f} min) RSS {warm.rss:.1f} MB, anon {warm.anon:.1f} MB;"
        f" at the end RSS {end.rss:.1f} MB, anon {end.anon:.1f} MB\n"
        f"end / warm-up: RSS {end.rss / warm.rss:.3f}, anon {end.anon / warm.anon:.3f}; slope RSS "
        f"{slope_mb_per_h([(s.seconds, s.rss) for s in samples]):+.1f} MB/h, anon "
        f"{slope_mb_per_h([(s.seconds, s.anon) for s in samples]):+.1f} MB/h"
    )
    print("object types that grew most from warm-up to the end:")
    for line in growth(first_probe, last_probe):
        print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=300.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds before the baseline")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}; {os.cpu_count()} cores", flush=True)
    idle = await measure(0, min(30.0, args.every))
    print(f"baseline: `fleethub up` with 0 robots, RSS {idle['rss_mb']:.1f} MB", flush=True)
    await soak(args, Path(tempfile.mkdtemp(prefix="fleethub-probes-")))
    print(f"(0-robot baseline {idle['rss_mb']:.1f} MB; load after: {os.getloadavg()})")


if __name__ == "__main__":
    asyncio.run(main())
