"""Real fleethub processes (and a private redis-server) on loopback ports chosen at runtime."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """One child process with its output kept in a file, for the failure message."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Process:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        log.close()
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        return self.proc.returncode

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def fleethub(name: str, command: str, env: Mapping[str, str], log_dir: Path) -> Process:
    return Process(name, [sys.executable, "-m", "fleethub", command], env, log_dir)


def redis_server(port: int, log_dir: Path) -> Process:
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    return Process(f"redis-{port}", argv, os.environ, log_dir)


async def wait_http(url: str, timeout: float = 20.0) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer 200 within {timeout}s")
            await asyncio.sleep(0.1)


async def ready(url: str) -> dict[str, Any] | None:
    """What a hub's /readyz says when it leads; None when it does not (or does not answer)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session,
            session.get(url + "/readyz") as resp,
        ):
            return await resp.json() if resp.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


@dataclass(frozen=True)
class HubPair:
    """Two hubs on one database (the first leads, the second stands by) and a proxy."""

    hubs: list[Process]
    urls: list[str]
    proxy_url: str


@contextlib.asynccontextmanager
async def hub_pair(
    tmp_path: Path, database_url: str, env: Mapping[str, str]
) -> AsyncIterator[HubPair]:
    """A private redis-server, the migrated database, two ``fleethub hub`` and a ``fleethub proxy``.

    ``env`` adds settings (the lease, the site token...). Every process is stopped at
    the end and the tail of its output printed, for a failing test's report.
    """
    redis_port, proxy_port = free_port(), free_port()
    hub_ports = [free_port(), free_port()]
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_PROXY_PORT": str(proxy_port),
        **env,
    }
    procs = [await redis_server(redis_port, tmp_path).start()]
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
        hubs = []
        for i, port in enumerate(hub_ports):
            hub = await fleethub(
                f"hub{i}",
                "hub",
                {**env, "FLEETHUB_HUB_PORT": str(port), "FLEETHUB_HUB_NAME": f"hub{i}"},
                tmp_path,
            ).start()
            procs.append(hub)
            hubs.append(hub)
            await wait_http(f"http://127.0.0.1:{port}/healthz")
            if i == 0:
                await wait_http(f"http://127.0.0.1:{port}/readyz")
        proxy = await fleethub("proxy", "proxy", env, tmp_path).start()
        procs.append(proxy)
        await wait_http(f"http://127.0.0.1:{proxy_port}/healthz")
        yield HubPair(
            hubs, [f"http://127.0.0.1:{p}" for p in hub_ports], f"http://127.0.0.1:{proxy_port}"
        )
    finally:
        for proc in reversed(procs):
            await proc.stop()
        for proc in procs:
            print(f"--- {proc.name}\n{proc.output()[-1500:]}")
