"""Hub takeover time: how long a frozen leader's standby takes to become ready.

Two `fleethub hub` processes on one PostgreSQL schema and a private Redis;
each round freezes the leader (SIGSTOP), times until the standby's /readyz
answers 200, thaws the old leader (SIGCONT) and waits until it has stepped
down, then swaps roles. The baseline printed beside it is the lease
duration itself: takeover can be no faster than the lease expiring.

Reproduce (PostgreSQL on 127.0.0.1, redis-server on PATH):
    .venv/bin/python bench/failover.py --rounds 5 --lease 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.processes import PrivateRedis, Process, fleethub, ready, wait_http


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lease", type=float, default=5.0)
    args = parser.parse_args()
    schema = "bench_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(args.database_url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    tmp = Path(tempfile.mkdtemp(prefix="fleethub-failover-"))
    redis = await PrivateRedis(tmp).start()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": f"{args.database_url}?schema={schema}",
        "FLEETHUB_REDIS_URL": redis.url,
        "FLEETHUB_HUB_PORT": "0",
        "FLEETHUB_HUB_LEASE_S": str(args.lease),
        "FLEETHUB_LOG_LEVEL": "WARNING",
        "FLEETHUB_INGEST_TOKEN": secrets.token_urlsafe(32),
    }
    procs: list[Process] = []
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0
        hubs, urls = [], []
        for i in range(2):
            hubs.append(await fleethub(f"hub{i}", "hub", env, tmp).start())
            procs.append(hubs[-1])
            urls.append(await hubs[-1].url("hub"))
            await wait_http(urls[-1] + "/healthz")
        await wait_http(urls[0] + "/readyz")
        leader = 0
        times = []
        for _ in range(args.rounds):
            standby = 1 - leader
            hubs[leader].signal(signal.SIGSTOP)
            frozen = time.monotonic()
            while not await ready(urls[standby]):
                await asyncio.sleep(0.02)
            times.append(time.monotonic() - frozen)
            hubs[leader].signal(signal.SIGCONT)
            while await ready(urls[leader]):
                await asyncio.sleep(0.05)
            leader = standby
            await asyncio.sleep(1.0)
        print(f"takeover times (s): {', '.join(f'{t:.2f}' for t in times)}")
        median = statistics.median(times)
        print(
            f"median takeover {median:.2f} s with a {args.lease:.1f} s lease ({median / args.lease:.2f}x the lease)"
        )
    finally:
        for proc in reversed(procs):
            await proc.stop()
        await redis.stop()
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
