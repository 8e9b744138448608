"""A proxy or REST API run as its own process never makes up a token secret.

Each replica would make up a different one and refuse the tokens the others
issued, so without ``FLEETHUB_JWT_SECRET`` (or an identity provider's keys)
they refuse to start, naming the setting. Only ``fleethub up``, one process
that is the whole system, generates its secret (tests/auth/test_permissions.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetcore.auth.tokens import SECRET_FILE
from fleethub.cli import main

UNUSED_REDIS = "redis://127.0.0.1:1/0"
"""Never connected to: the part refuses before it connects to anything."""


@pytest.mark.parametrize("part", ["proxy", "api"])
@pytest.mark.parametrize(
    ("secret", "said"),
    [(None, "which is not set"), ("REPLACE_ME", "which is shorter than 32 bytes")],
    ids=["unset", "placeholder"],
)
def test_a_part_without_a_jwt_secret_refuses_to_start_naming_it(
    part: str,
    secret: str | None,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLEETHUB_REDIS_URL", UNUSED_REDIS)
    monkeypatch.setenv("FLEETHUB_DATA_DIR", str(tmp_path))
    if secret is not None:
        monkeypatch.setenv("FLEETHUB_JWT_SECRET", secret)
    assert main([part]) == 2
    err = capsys.readouterr().err
    assert f"FLEETHUB_JWT_SECRET, {said}" in err and "FLEETHUB_JWKS_URL" in err
    assert not (tmp_path / SECRET_FILE).exists()
