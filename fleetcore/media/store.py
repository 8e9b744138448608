"""Where media files live: one interface, a local directory by default, any S3-compatible store.

A file is stored once, under the SHA-256 of its bytes: two uploads of the same
photo share it, a finished upload that is stored again (a client resuming
after the server died between storing and recording it) changes nothing, and
nothing is ever rewritten in place. :meth:`MediaStore.put` takes a finished
file on local disk (the upload's staging file) and streams it; :meth:`read`
streams a byte range back. Nothing here holds a whole file in memory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from fleetcore.errors import ConfigError
from fleetcore.settings import Settings

READ_CHUNK_BYTES = 256 << 10
"""What one read from a store hands on: big enough for throughput, small enough to stream."""


class MediaStore(Protocol):
    """Content-addressed file storage; ``key`` is a SHA-256 in hex, maybe with a suffix."""

    async def put(self, key: str, source: Path, content_type: str) -> None:
        """Store ``source`` under ``key`` (taking the file: it may be moved); idempotent."""

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store small derived bytes (a thumbnail) under ``key``."""

    async def exists(self, key: str) -> bool: ...

    def read(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        """``length`` bytes of ``key`` from ``start``, in chunks."""

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing one that is not there is no error."""

    async def aclose(self) -> None: ...


class LocalMediaStore:
    """Files under a directory: ``objects/<first two hex digits>/<key>``.

    A put renames the staging file into place (a copy first when they are on
    different filesystems), after an fsync, so a crash leaves either the whole
    file or none under its key.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / "objects" / key[:2] / key

    async def put(self, key: str, source: Path, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, source)

    def _put(self, key: str, source: Path) -> None:
        target = self._path(key)
        if target.exists():
            source.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with source.open("rb") as file:
            os.fsync(file.fileno())
        temporary = target.with_suffix(".incoming")
        shutil.move(source, temporary)
        os.replace(temporary, target)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put_bytes, key, data)

    def _put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".incoming")
        temporary.write_bytes(data)
        os.replace(temporary, target)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

    async def read(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        file = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            await asyncio.to_thread(file.seek, start)
            left = length
            while left > 0:
                chunk = await asyncio.to_thread(file.read, min(READ_CHUNK_BYTES, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            file.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def aclose(self) -> None:
        return None


def media_root(settings: Settings) -> Path:
    """The local directory media lives under (its staging area too, whatever the store)."""
    return settings.data_dir / "media"


def store_from_settings(settings: Settings) -> MediaStore:
    """The store ``media_store_url`` names; raises :class:`ConfigError` for one it cannot be."""
    url = settings.media_store_url
    if not url:
        return LocalMediaStore(media_root(settings))
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalMediaStore(Path(parts.path))
    if parts.scheme == "s3" and parts.netloc:
        from fleetcore.media.store_s3 import S3MediaStore

        return S3MediaStore(
            parts.netloc, parts.path.strip("/"), settings.media_s3_endpoint_url or None
        )
    raise ConfigError(
        f"FLEETHUB_MEDIA_STORE_URL {url!r} is neither empty, file:///path nor s3://bucket/prefix"
    )


__all__ = ["READ_CHUNK_BYTES", "LocalMediaStore", "MediaStore", "media_root", "store_from_settings"]
