"""The secrets every process needs: configured ones checked at start, the embedded ones generated.

There is no default secret in code. A part run as its own process (the hub,
a proxy, the REST API, a bridge) must be given each secret it needs and
refuses to start without it, naming the setting: two replicas that each made
up their own would refuse each other's tokens. Only ``fleethub up``, one
process that is the whole system, creates each secret once in its data
directory, readable by its owner only, and reads the same file on every
later start, so tokens and the simulator's site token keep working across
restarts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from fleetcore.errors import ConfigError
from fleetcore.settings import ENV_PREFIX, Settings


def require_secret(settings: Settings, name: str, min_bytes: int, needed_by: str, how: str) -> str:
    """The secret setting ``name``, or :class:`ConfigError` naming its variable and saying ``how``.

    ``min_bytes`` refuses placeholders and secrets short enough to guess offline.
    """
    value = str(getattr(settings, name))
    if len(value.encode()) >= min_bytes:
        return value
    problem = "is not set" if not value else f"is shorter than {min_bytes} bytes"
    raise ConfigError(f"{needed_by} needs {ENV_PREFIX}{name.upper()}, which {problem}: {how}")


def with_generated(settings: Settings, name: str, file_name: str, nbytes: int = 32) -> Settings:
    """``settings`` with the secret ``name``: as configured, else the data directory's (made once).

    Only for ``fleethub up``: the file is this one process's, never shared by replicas.
    """
    if getattr(settings, name):
        return settings
    return settings.replace(**{name: load_or_create(settings.data_dir / file_name, nbytes)})


def load_or_create(path: Path, nbytes: int = 32) -> str:
    """The secret stored at ``path``, created (mode 0600, ``nbytes`` of randomness) when missing.

    Creation is exclusive (a hard link into place), so two processes starting
    at once on one data directory agree on the first one's secret.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path, secrets.token_urlsafe(nbytes))
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"{path} is empty; delete it to have a new secret generated")
    return value


def _create(path: Path, value: str) -> None:
    """Write a complete file aside, then link it into place: readers never see it half written."""
    aside = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: its secret wins
            os.link(aside, path)
    finally:
        aside.unlink()


__all__ = ["load_or_create", "require_secret", "with_generated"]
