"""Verifying bearer tokens (and issuing the embedded ones), with PyJWT.

Every token is checked against the algorithms the settings pin, never the
one its header asks for alone: HS* tokens are verified with the shared
secret, RS*/ES*/PS* tokens with the configured PEM public key or the key
the JWKS names by ``kid``. So a token signed HS256 with the public key as
the secret, or with ``alg: none``, never verifies. ``exp`` is required;
``nbf``, ``aud`` and ``iss`` are checked. Each PyJWT error becomes one
:class:`~fleetcore.errors.Unauthorized` with a stable reason.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from fleetcore.errors import ConfigError, Unauthorized
from fleetcore.log import auth_logger
from fleetcore.secret_files import require_secret, with_generated
from fleetcore.settings import Settings

SECRET_FILE = "jwt_secret"
MIN_SECRET_BYTES = 32
"""RFC 7518: an HS256 key as long as the hash; shorter secrets can be brute-forced offline."""
LEEWAY_S = 5.0
"""Clock skew tolerated on exp and nbf between the issuer and this process."""
JWKS_LIFESPAN_S = 300.0
"""How long a fetched JWKS is trusted before it is fetched again."""
JWKS_TIMEOUT_S = 5.0
PASSWORD_CLAIM = "fleethub_pwd"
"""The claim naming the password an embedded token was issued for."""

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "disallowed_algorithm"),
    (jwt.InvalidKeyError, "disallowed_algorithm"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.DecodeError, "malformed"),
)
"""Most specific first: ExpiredSignatureError is also an InvalidTokenError, and so on."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says."""

    username: str
    expires_at: float | None
    external: bool
    """Signed by an identity provider's key (not the embedded secret): its user may be new here."""
    password_stamp: str | None = None
    """The password this token was issued for (:func:`fleetcore.auth.users.password_stamp`)."""


def require_jwt_secret(settings: Settings) -> str:
    """The HS256 secret, configured: every proxy and API replica must verify the same tokens.

    ``jwt_allow_weak_secret`` lets a short one through (rmf-web's demo stub), with a warning.
    """
    if settings.jwt_allow_weak_secret and settings.jwt_secret:
        if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
            auth_logger.warning(
                "jwt_secret is shorter than %d bytes (jwt_allow_weak_secret): anyone who guesses "
                "it can sign tokens. Demos only.",
                MIN_SECRET_BYTES,
            )
        return settings.jwt_secret
    return require_secret(
        settings,
        "jwt_secret",
        MIN_SECRET_BYTES,
        f"auth_mode=jwt with {', '.join(settings.jwt_algorithms)} pinned",
        "set it to a random string of 32+ bytes (e.g. `openssl rand -hex 32`), the same for the "
        "REST API and every proxy; with an identity provider set FLEETHUB_JWKS_URL (or "
        "FLEETHUB_JWT_PUBLIC_KEY) and FLEETHUB_JWT_ALGORITHMS=RS256 instead. Only `fleethub up` "
        f"generates its own, into <data_dir>/{SECRET_FILE}. A short demo secret (rmf-web's stub "
        "dashboard's) needs FLEETHUB_JWT_ALLOW_WEAK_SECRET=true",
    )


def with_generated_jwt_secret(settings: Settings) -> Settings:
    """``settings`` with an HS256 secret for ``fleethub up``: configured, else made once in its data dir."""
    if settings.auth_mode != "jwt" or not any(a.startswith("HS") for a in settings.jwt_algorithms):
        return settings
    return with_generated(settings, "jwt_secret", SECRET_FILE, nbytes=48)


class TokenVerifier:
    """Checks tokens against the pinned algorithms and the configured keys."""

    def __init__(self, settings: Settings) -> None:
        self._algorithms = list(settings.jwt_algorithms)
        if not self._algorithms or "none" in {a.lower() for a in self._algorithms}:
            raise ConfigError("jwt_algorithms must name real algorithms (never none)")
        self._audience = settings.jwt_audience or None
        self._issuer = settings.jwt_issuer or None
        self._user_claim = settings.jwt_user_claim
        self._secret = require_jwt_secret(settings) if self._uses_hmac() else ""
        self._public_key = _read_pem(settings.jwt_public_key)
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwks_url,
                lifespan=JWKS_LIFESPAN_S,
                timeout=JWKS_TIMEOUT_S,
                cooldown_duration=settings.jwks_cooldown_s,
            )
            if settings.jwks_url
            else None
        )
        if self._uses_asymmetric() and self._public_key is None and self._jwks is None:
            raise ConfigError(f"jwt_algorithms {self._algorithms} need jwt_public_key or jwks_url")

    @property
    def secret(self) -> str:
        """The HS256 secret ('' when HS256 is not pinned)."""
        return self._secret

    def _uses_hmac(self) -> bool:
        return any(a.startswith("HS") for a in self._algorithms)

    def _uses_asymmetric(self) -> bool:
        return any(not a.startswith("HS") for a in self._algorithms)

    async def verify(self, token: str | None) -> Claims:
        """The token's claims if it is valid, else :class:`Unauthorized` with the reason."""
        if not token:
            raise Unauthorized("missing_token", "send Authorization: Bearer <token>")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise Unauthorized("malformed", str(exc)) from None
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise Unauthorized("disallowed_algorithm", f"{alg!r} is not one of {self._algorithms}")
        key = await self._key(alg, header)
        try:
            with warnings.catch_warnings():
                # A weak secret was allowed and warned about once, at start; not per token.
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=LEEWAY_S,
                    options={"require": ["exp"]},
                )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(_reason(exc), str(exc)) from None
        username = claims.get(self._user_claim) or claims.get("sub")
        if not isinstance(username, str) or not username:
            raise Unauthorized("missing_claim", f"no {self._user_claim!r} or 'sub' claim")
        exp = claims.get("exp")
        stamp = claims.get(PASSWORD_CLAIM)
        return Claims(
            username,
            float(exp) if exp is not None else None,
            not alg.startswith("HS"),
            stamp if isinstance(stamp, str) else None,
        )

    async def _key(self, alg: str, header: dict[str, Any]) -> Any:
        if alg.startswith("HS"):
            return self._secret
        if self._jwks is None:
            return self._public_key
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("unknown_kid", "the token names no kid")
        try:
            # PyJWKClient fetches with urllib: keep it off the event loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key, kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthorized("keys_unavailable", str(exc)) from None
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("unknown_kid", str(exc)) from None
        return signing_key.key

    def issue(
        self, username: str, ttl_s: float, password_stamp: str | None = None
    ) -> tuple[str, float]:
        """An HS256 token for an embedded user and its lifetime; only with HS256 pinned.

        ``password_stamp`` ties it to the password it was issued for: it stops
        being valid when that password changes.
        """
        if "HS256" not in self._algorithms:
            raise ConfigError("tokens are issued only with HS256 among jwt_algorithms")
        now = time.time()
        claims: dict[str, Any] = {
            "sub": username,
            self._user_claim: username,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + ttl_s),
        }
        if password_stamp is not None:
            claims[PASSWORD_CLAIM] = password_stamp
        if self._audience:
            claims["aud"] = self._audience
        if self._issuer:
            claims["iss"] = self._issuer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(claims, self._secret, algorithm="HS256"), ttl_s


def _read_pem(path: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"jwt_public_key {path}: {exc.strerror}") from None


def _reason(exc: jwt.InvalidTokenError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "invalid_token"


__all__ = [
    "SECRET_FILE",
    "Claims",
    "TokenVerifier",
    "require_jwt_secret",
    "with_generated_jwt_secret",
]
