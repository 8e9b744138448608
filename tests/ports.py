"""A loopback port a test keeps while the server on it stops and starts again.

A test of reconnecting (a hub that restarts, a proxy replaced by the next
one) needs its server back at the same address. Closing a port and binding
it again lets anything else take it in between; so the test holds the port
with a socket that is bound but never listens, and each server binds beside
it with ``SO_REUSEPORT``. While no server listens, connecting is refused, as
to a server that is down; no other program can bind the port meanwhile
(it would need ``SO_REUSEPORT`` as well, under this user).
"""

from __future__ import annotations

import socket


class HeldPort:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._holder.bind((host, 0))
        self.host = host
        self.port: int = self._holder.getsockname()[1]

    def socket(self, host: str, port: int, family: socket.AddressFamily) -> socket.socket:
        """A server socket on the held port: aiohttp's ``TestServer(socket_factory=...)``."""
        server = socket.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        server.bind((self.host, self.port))
        return server

    def close(self) -> None:
        self._holder.close()
