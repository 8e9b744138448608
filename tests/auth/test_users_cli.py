"""``fleethub user ...`` and the first administrator, against a real database."""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from aiohttp.test_utils import TestServer

from fleetcore.auth import users
from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from fleethub.cli import main
from rest_api.app import create_app

pytestmark = pytest.mark.integration


def _user_cli(settings: Settings, *args: str) -> int:
    flags = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    return main(["user", *flags, *args])


async def _in_store(settings: Settings, check: object) -> object:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    try:
        return await check  # type: ignore[misc]
    finally:
        await close_database()


def _run(settings: Settings, check: object) -> object:
    return asyncio.run(_in_store(settings, check))


@pytest.fixture
def store(settings: Settings) -> Settings:
    """The suite's database (SQLite file or PostgreSQL schema), migrated as an operator would."""
    flags = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    assert main(["migrate", *flags]) == 0
    return settings


def test_adding_a_user_prints_a_generated_password_that_verifies(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _user_cli(store, "add", "alice") == 0
    password = re.search(r"password: (\S+)", capsys.readouterr().out)
    assert password is not None
    assert _run(store, users.verify_password("alice", password.group(1))) is True
    assert _run(store, users.verify_password("alice", "guess")) is False


def test_a_password_from_stdin_is_not_printed(
    store: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert _user_cli(store, "add", "bob", "--password-stdin") == 0
    assert "a long enough password" not in capsys.readouterr().out
    assert _run(store, users.verify_password("bob", "a long enough password")) is True


def test_a_tenant_is_set_up_from_the_command_line(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ("group-add", "site-a"),
        ("group-member", "site-a", "fleet", "tinyRobot"),
        ("group-member", "site-a", "robot", "deliveryRobot/r2"),
        ("role-add", "operators-a"),
        ("grant", "operators-a", "robot_read", "site-a"),
        ("add", "carol"),
        ("assign", "carol", "operators-a"),
        ("admin", "carol"),
    ):
        assert _user_cli(store, *args) == 0, args
    capsys.readouterr()
    for action in ("list", "roles", "groups"):
        assert _user_cli(store, action) == 0
    assert capsys.readouterr().out.splitlines() == [
        "carol *\toperators-a",
        "operators-a\trobot_read on site-a",
        "site-a\tfleet tinyRobot, robot deliveryRobot/r2",
    ]


def test_a_refused_change_exits_1_and_says_why(
    store: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _user_cli(store, "assign", "nobody", "nothing") == 1
    assert "no user 'nobody'" in capsys.readouterr().err


@pytest.fixture
def api_settings(auth_settings: Settings, database: None) -> Settings:
    """A REST app's settings, authentication on, its user store open."""
    return auth_settings


async def _start_and_stop(settings: Settings) -> None:
    server = TestServer(create_app(settings, InMemoryBus(), manage_database=False), port=0)
    await server.start_server()
    await server.close()


async def test_the_first_start_creates_admin_with_a_password_shown_once(
    api_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await _start_and_stop(api_settings)
    first = capsys.readouterr().out
    await _start_and_stop(api_settings)

    password = re.search(r"password: (\S+)", first)
    assert password is not None and "fleethub user passwd admin" in first
    assert await users.verify_password("admin", password.group(1))
    assert "password" not in capsys.readouterr().out
    assert await users.user_info("admin") == (True, [])
