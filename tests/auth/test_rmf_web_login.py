"""Logging in as rmf-web's deployments do: its demo stub's HS256 tokens, and Keycloak's RS256 ones.

The stub dashboard sends a fixed HS256 token signed with rmf-web's demo
secret (issuer ``stub``, audience ``rmf_api_server``, user ``admin``); the
settings the README gives take it, and only when the weak secret is
allowed explicitly. A Keycloak realm is played by a JWKS on loopback
(:class:`~tests.auth.test_jwt_attacks.IdentityProvider`), and the tokens are
shaped as Keycloak issues them (an audience list, ``azp``, ``typ``...).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning

from fleetcore.auth import AUTH_OFF_USER
from fleetcore.auth.tokens import TokenVerifier
from fleetcore.bus.memory import InMemoryBus
from fleetcore.errors import ConfigError
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.auth.conftest import Client
from tests.auth.test_jwt_attacks import IdentityProvider

pytestmark = pytest.mark.integration

STUB_SECRET = "rmfisawesome"
"""rmf-web's demo secret (its api-server's default config and its dashboard's StubAuthenticator)."""
STUB_SETTINGS: dict[str, Any] = {
    "jwt_secret": STUB_SECRET,
    "jwt_allow_weak_secret": True,
    "jwt_issuer": "stub",
    "jwt_audience": "rmf_api_server",
}
REALM = "/realms/rmf-web"
KEYCLOAK_AUDIENCE = "rmf_api_server"


def stub_token(username: str) -> str:
    """A token as rmf-web's StubAuthenticator sends it (its payload, signed with the demo secret)."""
    claims = {
        "sub": "stub",
        "preferred_username": username,
        "iat": 1516239022,
        "aud": "rmf_api_server",
        "iss": "stub",
        "exp": 2051222400,
    }
    return _weakly_signed(claims)


def _weakly_signed(claims: dict[str, Any]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, STUB_SECRET, algorithm="HS256")


async def _served(settings: Settings) -> AsyncIterator[Client]:
    client: Client = TestClient(
        TestServer(create_app(settings, InMemoryBus(), manage_database=False), port=0)
    )
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def _user(client: Client, token: str) -> tuple[int, Any]:
    async with client.get("/user", headers={"Authorization": f"Bearer {token}"}) as answer:
        return answer.status, await answer.json()


@pytest.fixture
async def stub_api(auth_settings: Settings, database: None) -> AsyncIterator[Client]:
    async for client in _served(auth_settings.replace(**STUB_SETTINGS)):
        yield client


async def test_the_stub_dashboards_admin_token_is_the_first_admin(stub_api: Client) -> None:
    status, user = await _user(stub_api, stub_token("admin"))

    assert status == 200
    assert (user["username"], user["is_admin"]) == ("admin", True)


async def test_a_stub_token_for_another_issuer_is_refused(stub_api: Client) -> None:
    forged = _weakly_signed(
        {"preferred_username": "admin", "aud": "rmf_api_server", "iss": "x", "exp": 2051222400}
    )

    status, body = await _user(stub_api, forged)

    assert (status, body["detail"]) == (401, "wrong_issuer")


def test_the_stub_secret_is_refused_unless_a_weak_secret_is_allowed(
    auth_settings: Settings,
) -> None:
    settings = auth_settings.replace(**{**STUB_SETTINGS, "jwt_allow_weak_secret": False})

    with pytest.raises(ConfigError, match="FLEETHUB_JWT_ALLOW_WEAK_SECRET"):
        TokenVerifier(settings)


async def test_with_auth_off_everyone_is_the_stub_authenticators_admin(
    settings: Settings, database: None
) -> None:
    async for client in _served(settings):
        async with client.get("/user") as answer:
            user = await answer.json()

        assert (user["username"], user["is_admin"]) == (AUTH_OFF_USER, True)
        assert AUTH_OFF_USER == "admin"


@pytest.fixture
async def keycloak() -> AsyncIterator[IdentityProvider]:
    """A realm's JWKS endpoint where Keycloak serves it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider = IdentityProvider(keys={"realm-key": key}, published={"realm-key"})
    app = web.Application()
    app.router.add_get(REALM + "/protocol/openid-connect/certs", provider.jwks)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    provider.url = str(server.make_url(REALM + "/protocol/openid-connect/certs"))
    try:
        yield provider
    finally:
        await server.close()


def keycloak_token(idp: IdentityProvider, **overrides: Any) -> str:
    """An access token as a Keycloak realm issues it to the dashboard's client."""
    now = int(time.time())
    issuer = idp.url.removesuffix("/protocol/openid-connect/certs")
    claims = {
        "iss": issuer,
        "aud": [KEYCLOAK_AUDIENCE, "account"],
        "azp": "dashboard",
        "typ": "Bearer",
        "sub": "0c5f2d8e-5b3e-4c55-9c31-6d1f1e0f7a11",
        "preferred_username": "operator1",
        "scope": "openid profile email",
        "realm_access": {"roles": ["default-roles-rmf-web"]},
        "jti": "onrtac:5f0d",
        "iat": now,
        "exp": now + 300,
        **overrides,
    }
    return jwt.encode(
        claims, idp.keys["realm-key"], algorithm="RS256", headers={"kid": "realm-key"}
    )


@pytest.fixture
async def keycloak_api(
    auth_settings: Settings, database: None, keycloak: IdentityProvider
) -> AsyncIterator[Client]:
    settings = auth_settings.replace(
        jwt_algorithms=("RS256",),
        jwks_url=keycloak.url,
        jwt_issuer=keycloak.url.removesuffix("/protocol/openid-connect/certs"),
        jwt_audience=KEYCLOAK_AUDIENCE,
        jwt_user_claim="preferred_username",
    )
    async for client in _served(settings):
        yield client


async def test_a_keycloak_token_logs_its_user_in_and_adds_them_without_roles(
    keycloak_api: Client, keycloak: IdentityProvider
) -> None:
    status, user = await _user(keycloak_api, keycloak_token(keycloak))

    assert status == 200
    assert user == {"username": "operator1", "is_admin": False, "roles": []}


async def test_a_keycloak_token_for_another_client_is_refused(
    keycloak_api: Client, keycloak: IdentityProvider
) -> None:
    status, body = await _user(keycloak_api, keycloak_token(keycloak, aud="account"))

    assert (status, body["detail"]) == (401, "wrong_audience")
