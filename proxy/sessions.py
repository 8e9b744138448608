"""Who each socket.io connection is, until when, and how fast it may send events.

A client connects with its bearer token in the socket.io ``auth`` payload,
``{token: "..."}`` — what rmf-web's dashboard sends, fetched again by its
``auth`` callback on every reconnect — or, outside browsers, an
``Authorization: Bearer`` header on the handshake. The :class:`Authenticator`
turns it into a :class:`Principal` or refuses it with a reason.

A session ends when its token expires, unless the client sent a fresh token
for the same user (``refresh_token``) in time. The expiry is one
``loop.call_at`` timer per connection: asyncio keeps its timers in one heap,
so 10,000 connections cost 10,000 small heap entries and no task, and a
refresh or a disconnect cancels the entry in O(1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetcore.auth import Authenticator, Principal
from fleetcore.errors import ConfigError, Unauthorized
from fleetcore.settings import Settings
from fleetcore.token_bucket import TokenBucket

_BEARER = "Bearer "


def offered_token(auth: Any, environ: Mapping[str, Any]) -> str | None:
    """The token of a connect: ``auth.token`` (a ``Bearer`` prefix is tolerated), else the header."""
    if isinstance(auth, dict):
        token = auth.get("token")
        if isinstance(token, str) and token.strip():
            return token.strip().removeprefix(_BEARER).strip()
    header = environ.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, str) and header.startswith(_BEARER):
        return header.removeprefix(_BEARER).strip() or None
    return None


@dataclass(frozen=True, slots=True)
class EventLimits:
    """Per-connection token buckets: one for subscribe/unsubscribe, one for every other event.

    An event over its bucket's limit is answered ``rate_limited`` with when to
    retry, and counted; it never delays another client.
    """

    subscribe_rate: float
    subscribe_burst: int
    command_rate: float
    command_burst: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EventLimits:
        return cls(
            settings.socket_subscribe_rate,
            settings.socket_subscribe_burst,
            settings.socket_command_rate,
            settings.socket_command_burst,
        )


@dataclass(slots=True)
class ClientSession:
    principal: Principal
    envelopes: bool
    """Deliver whole envelopes unless a subscribe says otherwise."""
    subscribes: TokenBucket
    """subscribe and unsubscribe."""
    commands: TokenBucket
    """Every other event."""
    base_url: str = ""
    """Where the client reached this proxy (``scheme://host``): the building map's image URLs
    point there unless ``public_url`` is set."""
    expiry: asyncio.TimerHandle | None = field(default=None)


ExpiryHandler = Callable[[str, Principal], Coroutine[Any, Any, None]]


class Sessions:
    """The sessions of one proxy, and the timers that end them."""

    def __init__(self, limits: EventLimits, on_expired: ExpiryHandler) -> None:
        self._limits = limits
        self._on_expired = on_expired
        self._sessions: dict[str, ClientSession] = {}
        self._expiring: set[asyncio.Task[None]] = set()
        self.authenticator: Authenticator | None = None
        """Set by :func:`proxy.app.attach`, which builds it from the settings."""

    async def principal(self, token: str | None) -> Principal:
        """Verify ``token``; :class:`Unauthorized` with the reason when it is not valid."""
        if self.authenticator is None:
            raise ConfigError("the proxy's authenticator is not started")
        return await self.authenticator.principal(token)

    def open(
        self, sid: str, principal: Principal, envelopes: bool, base_url: str = ""
    ) -> ClientSession:
        limits = self._limits
        session = ClientSession(
            principal,
            envelopes,
            TokenBucket(limits.subscribe_rate, limits.subscribe_burst),
            TokenBucket(limits.command_rate, limits.command_burst),
            base_url,
        )
        self._sessions[sid] = session
        self._schedule(sid, session)
        return session

    def get(self, sid: str) -> ClientSession | None:
        return self._sessions.get(sid)

    def __len__(self) -> int:
        return len(self._sessions)

    def renew(self, sid: str, principal: Principal) -> None:
        """Take a refreshed principal of the same user; its expiry replaces the old one."""
        session = self._sessions.get(sid)
        if session is None:
            return
        if principal.username != session.principal.username:
            raise Unauthorized("other_user", "a refreshed token must be for the same user")
        session.principal = principal
        self._schedule(sid, session)

    def close(self, sid: str) -> None:
        session = self._sessions.pop(sid, None)
        if session is not None and session.expiry is not None:
            session.expiry.cancel()

    def _schedule(self, sid: str, session: ClientSession) -> None:
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
        expires_at = session.principal.expires_at
        if expires_at is None:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + max(0.0, expires_at - time.time())
        session.expiry = loop.call_at(when, self._expire, sid, session.principal)

    def _expire(self, sid: str, principal: Principal) -> None:
        task = asyncio.create_task(self._on_expired(sid, principal), name=f"expire-{sid}")
        self._expiring.add(task)
        task.add_done_callback(self._expiring.discard)


__all__ = ["ClientSession", "EventLimits", "Sessions", "offered_token"]
