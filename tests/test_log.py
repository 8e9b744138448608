"""What of a URL may reach a log or a banner."""

from __future__ import annotations

from fleetcore.log import loggable_url


def test_a_password_in_a_url_is_masked() -> None:
    assert (
        loggable_url("postgres://fleet:s3cret@db:5432/fleethub")
        == "postgres://fleet:***@db:5432/fleethub"
    )


def test_the_query_that_may_carry_a_token_is_dropped() -> None:
    assert loggable_url("ws://hub:8000/_internal?token=abc&hello=1") == "ws://hub:8000/_internal"


def test_a_url_without_secrets_is_unchanged() -> None:
    assert loggable_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
