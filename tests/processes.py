"""Real fleethub processes (and a private redis-server), none of them on a port picked in advance.

A fleethub child binds port 0 and reports the port it got in its port file
(``FLEETHUB_PORT_FILE``), read by :meth:`Process.port`; a private redis-server
listens on a unix socket. A process that a test restarts sits behind a
:class:`Front`, a stable loopback address as a Kubernetes Service is, so its
clients keep their URL while each start binds a new port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

PORT_DEADLINE_S = 120.0
"""How long a child may take to start listening: a guard against a hung start, not a measure.

Python start-up and migrations took over 30 s on a 2-core machine at a load of 20, so the
guard is far above any healthy start."""


class Process:
    """One child process with its output kept in a file, for the failure message."""

    started: set[Process] = set()
    """Every process started and not yet seen stopped: what a test left behind (tests/conftest.py)."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.port_file = log_dir / f"{name}.ports.json"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Process:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        log.close()
        Process.started.add(self)
        return self

    @classmethod
    def kill_leftovers(cls, kept: set[Process]) -> list[str]:
        """SIGKILL every process started since ``kept`` was taken and still running; their names.

        A child left running keeps pytest from exiting (asyncio waits for it), so a test that
        forgot one must not pass. ``kept``: those of wider-scoped fixtures, which outlive a test.
        """
        cls.started = {p for p in cls.started if p.proc is not None and p.proc.returncode is None}
        left = cls.started - kept
        for process in left:
            with contextlib.suppress(ProcessLookupError):
                process.signal(signal.SIGKILL)
        cls.started -= left
        return sorted(process.name for process in left)

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

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        """The end of what the process printed, for a failure's message; look for a line in
        :meth:`log` (many more may have followed it)."""
        return self.log()[-4000:]

    async def port(self, server: str, timeout: float = PORT_DEADLINE_S) -> int:
        """The port ``server`` (``hub``, ``proxy``, ``api``, ``sim_control``) listens on, once it does."""
        deadline = time.monotonic() + timeout
        while True:
            if self.port_file.exists():
                ports = json.loads(self.port_file.read_text())
                if server in ports:
                    return int(ports[server])
            if self.proc is not None and self.proc.returncode is not None:
                raise AssertionError(
                    f"{self.name} exited before {server} listened:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {server} port within {timeout}s")
            await asyncio.sleep(0.05)

    async def url(self, server: str) -> str:
        return f"http://127.0.0.1:{await self.port(server)}"


def fleethub(name: str, command: str, env: Mapping[str, str], log_dir: Path) -> Process:
    """``fleethub <command>``; every port it is given as 0 is reported to :meth:`Process.port`."""
    proc = Process(name, [sys.executable, "-m", "fleethub", command], env, log_dir)
    proc.port_file.unlink(missing_ok=True)
    proc.env["FLEETHUB_PORT_FILE"] = str(proc.port_file)
    return proc


class PrivateRedis:
    """A redis-server of the test's own on a unix socket: no port to pick, the same path after a restart."""

    def __init__(self, log_dir: Path) -> None:
        # A unix socket path is limited to about 100 bytes: a short directory of its own.
        self._dir = Path(tempfile.mkdtemp(prefix="redis-"))
        self.socket = self._dir / "redis.sock"
        self.url = f"unix://{self.socket}?db=0"
        self._log_dir = log_dir
        self.process: Process | None = None

    async def start(self) -> PrivateRedis:
        argv = ["redis-server", "--port", "0", "--unixsocket", str(self.socket)]
        argv += ["--unixsocketperm", "700", "--save", "", "--appendonly", "no"]
        self.process = await Process("redis", argv, os.environ, self._log_dir).start()
        deadline = time.monotonic() + PORT_DEADLINE_S
        while not self.socket.exists():
            assert self.process.proc is not None
            if self.process.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start:\n{self.process.output()}")
            await asyncio.sleep(0.02)
        return self

    async def kill(self) -> None:
        assert self.process is not None
        await self.process.kill()
        self.socket.unlink(missing_ok=True)

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()
        self.socket.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self._dir.rmdir()


class Front:
    """A stable loopback address before a process that restarts on another port each time.

    Each connection is piped to ``target``; while there is none (the process is
    down), a connection is accepted and closed at once, as a Service without a
    ready pod does.
    """

    def __init__(self) -> None:
        self.target = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> Front:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            try:
                upstream = await asyncio.open_connection("127.0.0.1", self.target)
            except OSError:
                return
            await asyncio.gather(_copy(reader, upstream[1]), _copy(upstream[0], writer))
        finally:
            writer.close()
            self._pipes.discard(task)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


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

    ``env`` adds settings (the lease, the site token...). Every process binds port 0
    and reports its port. Every process is stopped at the end and the tail of its
    output printed, for a failing test's report.
    """
    redis = await PrivateRedis(tmp_path).start()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_REDIS_URL": redis.url,
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_HUB_PORT": "0",
        "FLEETHUB_PROXY_PORT": "0",
        **env,
    }
    procs: list[Process] = []
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
        hubs, urls = [], []
        for i in range(2):
            hub = await fleethub(
                f"hub{i}", "hub", {**env, "FLEETHUB_HUB_NAME": f"hub{i}"}, tmp_path
            ).start()
            procs.append(hub)
            hubs.append(hub)
            urls.append(await hub.url("hub"))
            await wait_http(urls[-1] + "/healthz")
            if i == 0:
                await wait_http(urls[-1] + "/readyz")
        proxy = await fleethub("proxy", "proxy", env, tmp_path).start()
        procs.append(proxy)
        proxy_url = await proxy.url("proxy")
        await wait_http(proxy_url + "/healthz")
        yield HubPair(hubs, urls, proxy_url)
    finally:
        for proc in reversed(procs):
            await proc.stop()
        await redis.stop()
        for proc in procs:
            print(f"--- {proc.name}\n{proc.output()[-1500:]}")
