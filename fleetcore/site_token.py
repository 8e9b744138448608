"""The site token: what RMF sites (fleet adapters, ros_bridge, the simulator) present to ``/_internal``.

Ingest is the only way into the hub's data, so it is never open: a hub
without a site token refuses to start, and so do a separately run bridge or
simulator (they could only be refused). ``fleethub up`` generates one into
its data directory on first run and hands it to its own simulator; RMF's
stock ``BroadcastClient`` sends it as ``?token=`` in the URL it is given.
"""

from __future__ import annotations

from fleetcore.secret_files import require_secret, with_generated
from fleetcore.settings import Settings

SITE_TOKEN_FILE = "site_token"
"""Where ``fleethub up`` keeps its generated token, under the data directory."""
MIN_SITE_TOKEN_LENGTH = 16
"""Shorter tokens (placeholders such as ``REPLACE_ME``) are refused at start."""


def require_site_token(settings: Settings, who: str) -> str:
    """The configured site token, or :class:`ConfigError` saying how to set one."""
    return require_secret(
        settings,
        "ingest_token",
        MIN_SITE_TOKEN_LENGTH,
        who,
        "it is the site token; set it to a long random string (e.g. `openssl rand -hex 32`), the same for the hub "
        "and every site (fleet adapters send it as ?token=; `fleethub up` generates its own)",
    )


def with_generated_site_token(settings: Settings) -> Settings:
    """``settings`` with a site token: the configured one, else the data directory's (made once)."""
    return with_generated(settings, "ingest_token", SITE_TOKEN_FILE)


__all__ = [
    "MIN_SITE_TOKEN_LENGTH",
    "SITE_TOKEN_FILE",
    "require_site_token",
    "with_generated_site_token",
]
