"""From a bearer token to a :class:`Principal`: verify, then read the grants from the user store.

Shared by the REST middleware and the socket.io proxy. Grants are cached
per user for ``auth_cache_s``, so a dashboard's burst of requests costs one
read of the store; an admin change reaches other processes within that
time (:meth:`Authenticator.forget` makes it immediate in this one).
"""

from __future__ import annotations

import time

from fleetcore.auth import users
from fleetcore.auth.permissions import Principal, admin_principal
from fleetcore.auth.tokens import TokenVerifier
from fleetcore.errors import ConfigError, Unauthorized
from fleetcore.log import auth_logger
from fleetcore.metrics import AUTH_REJECTED
from fleetcore.settings import Settings

AUTH_OFF_USER = "admin"
"""Who everyone is with ``auth_mode = "off"``: the user rmf-web's stub authenticator logs in,
so what rmf-web's dashboard shows (and stores, as requester or owner) reads the same."""
AUTH_MODES = ("jwt", "off")


class Authenticator:
    """Verifies a bearer token and returns the Principal (grants read from the user store, cached briefly)."""

    def __init__(self, settings: Settings) -> None:
        """Build from the settings at once (reading the secret or PEM key); no I/O to the store."""
        if settings.auth_mode not in AUTH_MODES:
            raise ConfigError(f"auth_mode must be one of {AUTH_MODES}, not {settings.auth_mode!r}")
        self._verifier = TokenVerifier(settings) if settings.auth_mode == "jwt" else None
        if self._verifier is None:
            auth_logger.warning(
                "AUTHENTICATION IS OFF (auth_mode=off): every client is an admin. "
                "Never run this way where anyone else can connect."
            )
        self._cache_s = settings.auth_cache_s
        self._token_ttl_s = settings.token_ttl_s
        self._cache: dict[str, tuple[float, users.StoredGrants]] = {}

    @classmethod
    async def from_settings(cls, settings: Settings) -> Authenticator:
        return cls(settings)

    @property
    def enabled(self) -> bool:
        return self._verifier is not None

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            raise ConfigError("auth_mode is off: there are no tokens to issue or verify")
        return self._verifier

    async def principal(self, token: str | None) -> Principal:
        """The token's principal; :class:`Unauthorized` (counted by reason) when it is not valid."""
        if self._verifier is None:
            return admin_principal(AUTH_OFF_USER)
        try:
            claims = await self._verifier.verify(token)
            stored = await self._grants(claims.username, create=claims.external)
            if claims.password_stamp is not None and claims.password_stamp != stored.password_stamp:
                raise Unauthorized(
                    "revoked", "the password changed since this token was issued; log in again"
                )
        except Unauthorized as exc:
            AUTH_REJECTED.labels(exc.reason).inc()
            auth_logger.info("token refused: %s", exc.reason)
            raise
        return Principal(claims.username, stored.is_admin, stored.grants, claims.expires_at)

    async def _grants(self, username: str, *, create: bool) -> users.StoredGrants:
        now = time.monotonic()
        cached = self._cache.get(username)
        if cached is not None and cached[0] > now:
            return cached[1]
        stored = await users.load_grants(username)
        if stored is None and create:
            # A user the identity provider vouches for, seen here first: no roles yet.
            await users.ensure_user(username)
            stored = await users.load_grants(username)
        if stored is None:
            raise Unauthorized("unknown_user", f"no user {username!r} in the user store")
        self._cache[username] = (now + self._cache_s, stored)
        return stored

    def forget(self, username: str | None = None) -> None:
        """Drop cached grants (of one user, or all) after a change to the store."""
        if username is None:
            self._cache.clear()
        else:
            self._cache.pop(username, None)

    async def login(self, username: str, password: str) -> tuple[str, float]:
        """A token for an embedded user's password, and its lifetime in seconds."""
        stamp = await users.check_password(username, password)
        if stamp is None:
            AUTH_REJECTED.labels("bad_credentials").inc()
            raise Unauthorized("bad_credentials", "wrong username or password")
        return self.verifier.issue(username, self._token_ttl_s, stamp)

    async def aclose(self) -> None:
        self._cache.clear()


__all__ = ["AUTH_OFF_USER", "Authenticator"]
