"""The fleethub command: documented options, clear configuration errors."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from fleetcore.settings import Settings
from fleethub.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_documents_every_setting(command: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fleethub", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for f in fields(Settings):
        assert "--" + f.name.replace("_", "-") in out
        assert "FLEETHUB_" + f.name.upper() in out


def test_a_separate_proxy_without_redis_explains_what_it_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["proxy"]) == 2
    assert "FLEETHUB_REDIS_URL" in capsys.readouterr().err


def test_a_bad_setting_exits_with_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--api-port", "http"]) == 2
    assert "FLEETHUB_API_PORT" in capsys.readouterr().err
