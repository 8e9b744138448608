"""The reassignment policy is off by default and on in the demo (``fleethub up``), and says so."""

from __future__ import annotations

import pytest

from fleethub.cli import build_parser, load_settings


def _reassign(*argv: str) -> bool:
    return load_settings(build_parser().parse_args(list(argv))).derive_reassign


@pytest.mark.parametrize("command", ["hub", "sim", "api", "proxy"])
def test_the_policy_is_off_outside_the_demo(command: str) -> None:
    assert _reassign(command) is False


def test_fleethub_up_turns_the_policy_on() -> None:
    assert _reassign("up") is True


def test_the_environment_turns_it_off_in_fleethub_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETHUB_DERIVE_REASSIGN", "off")
    assert _reassign("up") is False


def test_a_flag_turns_it_off_in_fleethub_up() -> None:
    assert _reassign("up", "--derive-reassign", "off") is False


@pytest.mark.parametrize(("command", "default"), [("up", "True"), ("hub", "False")])
def test_help_documents_the_policy_with_its_default_in_each_mode(
    command: str, default: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--derive-reassign" in text
    assert "dispatched again once" in text
    assert f"[env FLEETHUB_DERIVE_REASSIGN; default {default}]" in text
