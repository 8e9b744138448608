"""Ingest needs the site token: refused and counted without it, and nothing starts without one."""

from __future__ import annotations

import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.bus.memory import InMemoryBus
from fleetcore.errors import ConfigError
from fleetcore.settings import Settings
from fleetcore.site_token import SITE_TOKEN_FILE, with_generated_site_token
from fleethub.cli import main
from hub.web import create_app
from tests.helpers import TEST_SITE_TOKEN, IngestClient, fleet
from tests.hub.test_ingest_rejections import rejected_count, url


async def refused(server: TestServer, **connect: str) -> aiohttp.WSServerHandshakeError:
    """Connect to /_internal with ``connect`` (``query`` or ``header``) and return the refusal."""
    ws_url = url(server).replace("http", "ws", 1) + "/_internal" + connect.get("query", "")
    headers = {"Authorization": connect["header"]} if "header" in connect else {}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
            await session.ws_connect(ws_url, headers=headers)
    return refusal.value


@pytest.mark.parametrize(
    "connect",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"query": "?token="}, id="empty-query-token"),
        pytest.param({"query": "?token=wrong-token-0123456789"}, id="wrong-query-token"),
        pytest.param({"header": "Bearer wrong-token-0123456789"}, id="wrong-bearer-token"),
        pytest.param({"header": f"Basic {TEST_SITE_TOKEN}"}, id="not-a-bearer-header"),
    ],
)
async def test_ingest_without_the_right_site_token_is_refused_with_401_and_counted(
    embedded: TestServer, connect: dict[str, str]
) -> None:
    before = await rejected_count(embedded, "unauthorized")
    refusal = await refused(embedded, **connect)
    assert refusal.status == 401
    assert await rejected_count(embedded, "unauthorized") == before + 1


async def test_the_site_token_is_accepted_in_the_query(embedded: TestServer) -> None:
    async with IngestClient(url(embedded)) as ingest:
        await ingest.send("fleet_state_update", fleet("f", {"r": (0.0, 0.0)}))
        assert ingest.ws is not None and not ingest.ws.closed


async def test_the_site_token_is_accepted_as_a_bearer_header(embedded: TestServer) -> None:
    ws_url = url(embedded).replace("http", "ws", 1) + "/_internal"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, headers={"Authorization": f"Bearer {TEST_SITE_TOKEN}"}) as ws,
    ):
        await ws.send_json({"type": "fleet_state_update", "data": fleet("f", {"r": (0.0, 0.0)})})
        assert not ws.closed


@pytest.mark.parametrize("token", ["", "REPLACE_ME"], ids=["unset", "placeholder"])
def test_a_hub_without_a_usable_site_token_refuses_to_start(settings: Settings, token: str) -> None:
    with pytest.raises(ConfigError, match="FLEETHUB_INGEST_TOKEN"):
        create_app(settings.replace(ingest_token=token), InMemoryBus())


def test_fleethub_hub_without_a_site_token_exits_with_how_to_set_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["hub", "--redis-url", "redis://127.0.0.1:1/0"]) == 2
    err = capsys.readouterr().err
    assert "site token" in err and "FLEETHUB_INGEST_TOKEN" in err


def test_fleethub_sim_without_a_site_token_exits_with_how_to_set_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sim"]) == 2
    assert "FLEETHUB_INGEST_TOKEN" in capsys.readouterr().err


def test_the_embedded_system_generates_its_site_token_once_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    first = with_generated_site_token(Settings(data_dir=tmp_path)).ingest_token
    again = with_generated_site_token(Settings(data_dir=tmp_path)).ingest_token
    assert len(first) >= 32 and again == first
    assert stat.S_IMODE((tmp_path / SITE_TOKEN_FILE).stat().st_mode) == 0o600


def test_a_configured_site_token_wins_over_a_generated_one(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path, ingest_token=TEST_SITE_TOKEN)
    assert with_generated_site_token(configured).ingest_token == TEST_SITE_TOKEN
    assert not (tmp_path / SITE_TOKEN_FILE).exists()
