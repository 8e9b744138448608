"""Tokens an attacker might send, against an OIDC-style setup: RS256 keys from a JWKS.

The identity provider is a real HTTP server on a loopback port serving a
JWKS (and counting its fetches). Every forged, stale or foreign token is
answered 401 with its specific reason, over the REST API, and none of it is
logged at ERROR level: refusing a bad token is normal operation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.auth.conftest import Client
from tests.helpers import JWT_SECRET

pytestmark = pytest.mark.integration

ISSUER = "https://idp.test/realms/site"
AUDIENCE = "fleethub"


@dataclass
class IdentityProvider:
    """A JWKS endpoint on loopback; ``keys`` can change (rotation), ``fetches`` counts GETs."""

    keys: dict[str, rsa.RSAPrivateKey]
    fetches: int = 0
    published: set[str] = field(default_factory=set)
    url: str = ""

    def sign(self, kid: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "sub": "f3c1-user-id",
            "preferred_username": "alice",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def public_pem(self, kid: str) -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    async def jwks(self, request: web.Request) -> web.Response:
        self.fetches += 1
        keys = []
        for kid in sorted(self.published):
            jwk = RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": keys})


@pytest.fixture(scope="module")
def rsa_keys() -> Iterator[dict[str, rsa.RSAPrivateKey]]:
    yield {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("key-1", "key-2", "never-published")
    }


@pytest.fixture
async def idp(rsa_keys: dict[str, rsa.RSAPrivateKey]) -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider(keys=rsa_keys, published={"key-1"})
    app = web.Application()
    app.router.add_get("/certs", provider.jwks)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    provider.url = str(server.make_url("/certs"))
    try:
        yield provider
    finally:
        await server.close()


async def _api(settings: Settings) -> AsyncIterator[Client]:
    client: Client = TestClient(
        TestServer(create_app(settings, InMemoryBus(), manage_database=False), port=0)
    )
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def oidc_settings(auth_settings: Settings, idp: IdentityProvider) -> Settings:
    return auth_settings.replace(
        jwt_algorithms=("RS256",),
        jwks_url=idp.url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_cooldown_s=0.0,
    )


@pytest.fixture
async def api(oidc_settings: Settings, database: None) -> AsyncIterator[Client]:
    async for client in _api(oidc_settings):
        yield client


async def _refusal(client: Client, token: str | None) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with client.get("/user", headers=headers) as response:
        body = await response.json()
        detail = body.get("detail", "") if isinstance(body, dict) else ""
        return response.status, detail, response.headers.get("WWW-Authenticate", "")


def _hs256_signed_with(key: bytes, claims: dict[str, Any], kid: str) -> str:
    """An HS256 token whose HMAC secret is ``key``: PyJWT refuses to make one with a PEM key."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = (
        b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}))
        + "."
        + b64(orjson.dumps(claims))
    )
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "preferred_username": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 300,
        **overrides,
    }


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_a_valid_provider_token_logs_in_a_user_seen_for_the_first_time(
    api: Client, idp: IdentityProvider
) -> None:
    async with api.get("/user", headers={"Authorization": f"Bearer {idp.sign('key-1')}"}) as r:
        assert r.status == 200
        assert await r.json() == {"username": "alice", "is_admin": False, "roles": []}


@pytest.mark.usefixtures("no_errors_logged")
@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("alg_none", "disallowed_algorithm"),
        ("hs256_with_the_public_key", "disallowed_algorithm"),
        ("wrong_audience", "wrong_audience"),
        ("wrong_issuer", "wrong_issuer"),
        ("expired", "expired"),
        ("not_yet_valid", "not_yet_valid"),
        ("unknown_kid", "unknown_kid"),
        ("signed_by_another_key_under_a_known_kid", "bad_signature"),
        ("no_expiry", "missing_claim"),
        ("garbage", "malformed"),
        ("missing", "missing_token"),
    ],
)
async def test_a_bad_token_is_401_with_its_reason(
    api: Client, idp: IdentityProvider, attack: str, reason: str
) -> None:
    now = int(time.time())
    tokens: dict[str, str | None] = {
        "alg_none": jwt.encode(_claims(), None, algorithm="none"),  # type: ignore[arg-type]
        "hs256_with_the_public_key": _hs256_signed_with(
            idp.public_pem("key-1"), _claims(), "key-1"
        ),
        "wrong_audience": idp.sign("key-1", aud="another-service"),
        "wrong_issuer": idp.sign("key-1", iss="https://evil.test"),
        "expired": idp.sign("key-1", exp=now - 60, iat=now - 400, nbf=now - 400),
        "not_yet_valid": idp.sign("key-1", nbf=now + 120),
        "unknown_kid": idp.sign("never-published"),
        "signed_by_another_key_under_a_known_kid": jwt.encode(
            _claims(), idp.keys["key-2"], algorithm="RS256", headers={"kid": "key-1"}
        ),
        "no_expiry": idp.sign("key-1", exp=None),
        "garbage": "not.a.jwt",
        "missing": None,
    }
    status, detail, challenge = await _refusal(api, tokens[attack])
    assert (status, detail) == (401, reason)
    assert f'error_description="{reason}"' in challenge


async def test_a_rotated_key_is_fetched_when_a_token_names_its_kid(
    api: Client, idp: IdentityProvider
) -> None:
    assert (await _refusal(api, idp.sign("key-1")))[0] == 200
    before = idp.fetches
    idp.published.add("key-2")

    assert (await _refusal(api, idp.sign("key-2")))[0] == 200
    assert idp.fetches == before + 1


async def test_keys_are_cached_between_requests(api: Client, idp: IdentityProvider) -> None:
    for _ in range(3):
        assert (await _refusal(api, idp.sign("key-1")))[0] == 200
    assert idp.fetches == 1


async def test_unknown_kids_within_the_cooldown_do_not_refetch_the_keys(
    oidc_settings: Settings, database: None, idp: IdentityProvider
) -> None:
    async for api in _api(oidc_settings.replace(jwks_cooldown_s=60.0)):
        assert (await _refusal(api, idp.sign("key-1")))[0] == 200
        for _ in range(5):
            assert (await _refusal(api, idp.sign("never-published")))[1] == "unknown_kid"
        assert idp.fetches == 1


async def test_with_hs256_and_rs256_pinned_a_token_hmac_signed_with_the_public_key_is_a_bad_signature(
    oidc_settings: Settings, database: None, idp: IdentityProvider
) -> None:
    both = oidc_settings.replace(jwt_algorithms=("HS256", "RS256"), jwt_secret=JWT_SECRET)
    token = _hs256_signed_with(idp.public_pem("key-1"), _claims(), "key-1")
    async for api in _api(both):
        assert (await _refusal(api, token))[:2] == (401, "bad_signature")


async def test_a_pem_public_key_verifies_without_a_jwks(
    oidc_settings: Settings, database: None, idp: IdentityProvider, tmp_path: Any
) -> None:
    pem = tmp_path / "idp.pem"
    pem.write_bytes(idp.public_pem("key-1"))
    pinned = oidc_settings.replace(jwks_url="", jwt_public_key=str(pem))
    async for api in _api(pinned):
        assert (await _refusal(api, idp.sign("key-1")))[0] == 200
        assert (await _refusal(api, idp.sign("key-2")))[:2] == (401, "bad_signature")
    assert idp.fetches == 0
