"""A TCP forwarder on a loopback port, standing for the network (or a Kubernetes Service) between
a site and its hub.

Each new connection is piped to the target ``choose`` names when it arrives
(None: refused, as a Service without a ready endpoint refuses it); an
established connection stays with its target whatever happens to it, as
kube-proxy's connection tracking keeps it. :meth:`Forwarder.blackhole` makes
the open connections swallow bytes in one direction or both, as a peer that
hangs does: what is written is accepted and never arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Target = tuple[str, int]


@dataclass(slots=True)
class _Pipe:
    to_hub: bool = True
    to_site: bool = True


class Forwarder:
    def __init__(self, choose: Callable[[], Awaitable[Target | None]]) -> None:
        self._choose = choose
        self._server: asyncio.Server | None = None
        self._pipes: list[_Pipe] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        """Connections piped to a target so far."""

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> Forwarder:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def blackhole(self, *, to_hub: bool = True, to_site: bool = True) -> None:
        """From now on, the connections open now swallow what goes ``to_hub`` / ``to_site``."""
        for pipe in self._pipes:
            pipe.to_hub = pipe.to_hub and not to_hub
            pipe.to_site = pipe.to_site and not to_site

    async def _accept(self, site_in: asyncio.StreamReader, site_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            target = await self._choose()
            if target is None:
                return
            try:
                hub_in, hub_out = await asyncio.open_connection(*target)
            except OSError:
                return
            self.connections += 1
            pipe = _Pipe()
            self._pipes.append(pipe)
            try:
                await asyncio.gather(
                    _copy(site_in, hub_out, lambda: pipe.to_hub),
                    _copy(hub_in, site_out, lambda: pipe.to_site),
                )
            finally:
                self._pipes.remove(pipe)
                hub_out.close()
        finally:
            site_out.close()
            self._tasks.discard(task)


async def _copy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, passes: Callable[[], bool]
) -> None:
    """Copy until EOF (then close the other side), dropping what arrives while ``passes()`` is False."""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            if passes():
                writer.write(chunk)
                await writer.drain()
    writer.close()
