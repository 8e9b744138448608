"""Uploads under way: a partial file and its description, on the API process's disk.

Each upload is two files under ``media_upload_dir`` (``<data_dir>/media/uploads``
by default; shared by the API processes, so an upload resumes on any of them): ``<id>.json``,
written once at creation (who, what it is attached to, its declared length and
metadata), and ``<id>.part``, the bytes received so far. The offset a client
resumes from is the size of the part file, so it is right after any crash:
bytes the kernel took before a SIGKILL are there, bytes it did not take were
never counted. Nothing of an upload is visible to readers until the whole file
is in the media store and its row is written; an upload nobody finishes is
removed after ``media_upload_expiry_s`` (:meth:`Staging.expired`).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from fleetcore.media.sniff import SNIFF_BYTES

WRITE_BUFFER_BYTES = 1 << 20
"""Received bytes gathered before one write to the part file."""
FLOCK_POLL_S = 0.05
"""How often a request waiting for an upload another process writes asks again."""


@dataclass(frozen=True, slots=True)
class Upload:
    """What an upload was created with; fixed for its life."""

    id: str
    length: int
    uploader: str
    attached_to: str
    attached_id: str
    fleet: str | None
    robot: str | None
    declared_type: str | None
    capture_ms: int
    created_ms: int
    metadata: str
    """The Upload-Metadata header as sent, for HEAD to echo."""


class Busy(Exception):
    """Another request is still writing this upload (a dropped connection not yet noticed)."""


class Staging:
    """The uploads under way in one directory, with a lock per upload against concurrent writes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: dict[str, asyncio.Lock] = {}

    def _files(self, upload_id: str) -> tuple[Path, Path]:
        return self.directory / f"{upload_id}.json", self.directory / f"{upload_id}.part"

    def _hash_file(self, upload_id: str) -> Path:
        return self.directory / f"{upload_id}.sha256"

    async def mark_hashed(self, upload_id: str, sha256: str) -> None:
        """Record that every byte is in and what they hash to, before the part file is handed
        to the store (which may move it): a crash after this finishes the upload, never restarts it."""
        await asyncio.to_thread(self._hash_file(upload_id).write_text, sha256)

    async def hashed(self, upload_id: str) -> str | None:
        try:
            return await asyncio.to_thread(self._hash_file(upload_id).read_text)
        except FileNotFoundError:
            return None

    async def sha256(self, upload_id: str) -> str:
        """The part file's SHA-256, read in chunks (never whole)."""
        return await asyncio.to_thread(self._sha256, self.part(upload_id))

    @staticmethod
    def _sha256(path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(WRITE_BUFFER_BYTES):
                digest.update(chunk)
        return digest.hexdigest()

    async def create(self, upload: Upload) -> None:
        await asyncio.to_thread(self._create, upload)

    def _create(self, upload: Upload) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        info, part = self._files(upload.id)
        part.touch()
        temporary = info.with_suffix(".new")
        temporary.write_bytes(orjson.dumps(asdict(upload)))
        os.replace(temporary, info)

    async def get(self, upload_id: str) -> Upload | None:
        """The upload, or None: unknown, finished, or removed (its id is not a file name then)."""
        if not upload_id.isalnum():
            return None
        info, _ = self._files(upload_id)
        try:
            raw = await asyncio.to_thread(info.read_bytes)
        except FileNotFoundError:
            return None
        return Upload(**orjson.loads(raw))

    async def offset(self, upload_id: str) -> int:
        _, part = self._files(upload_id)
        try:
            return (await asyncio.to_thread(part.stat)).st_size
        except FileNotFoundError:
            return 0

    async def head(self, upload_id: str) -> bytes:
        """The part file's first bytes, enough to tell its type."""
        _, part = self._files(upload_id)
        with part.open("rb") as file:
            return file.read(SNIFF_BYTES)

    def part(self, upload_id: str) -> Path:
        return self._files(upload_id)[1]

    @asynccontextmanager
    async def writing(self, upload_id: str, wait_s: float) -> AsyncIterator[None]:
        """Hold the upload's lock, in this process and (``flock``) across the processes sharing
        the directory; :class:`Busy` if another request keeps it past ``wait_s``."""
        deadline = time.monotonic() + wait_s
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), wait_s)
        except TimeoutError:
            raise Busy(upload_id) from None
        try:
            descriptor = await asyncio.to_thread(
                os.open, self.directory / f"{upload_id}.lock", os.O_RDWR | os.O_CREAT, 0o600
            )
            try:
                await self._flock(descriptor, upload_id, deadline)
                yield
            finally:
                os.close(descriptor)  # releases the flock
        finally:
            lock.release()
            if not lock.locked():
                self._locks.pop(upload_id, None)

    @staticmethod
    async def _flock(descriptor: int, upload_id: str, deadline: float) -> None:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(upload_id) from None
                await asyncio.sleep(FLOCK_POLL_S)

    async def append(
        self, upload_id: str, chunks: AsyncIterator[bytes], limit: int, digest: hashlib._Hash | None
    ) -> int:
        """Append what ``chunks`` yields, at most ``limit`` bytes; the bytes written.

        Bytes are written as they come (a megabyte at a time), so a connection
        that drops keeps what arrived before it dropped. More than ``limit``
        raises :class:`ValueError` after writing ``limit``.
        """
        part = self.part(upload_id)
        file = await asyncio.to_thread(part.open, "ab")
        written = 0
        buffer = bytearray()
        pending: asyncio.Task[int] | None = None
        try:
            async for chunk in chunks:
                if written + len(buffer) + len(chunk) > limit:
                    buffer += chunk[: limit - written - len(buffer)]
                    raise ValueError("body goes past Upload-Length")
                buffer += chunk
                if digest is not None:
                    digest.update(chunk)
                if len(buffer) >= WRITE_BUFFER_BYTES:
                    # Counted and emptied before the wait: a request cancelled meanwhile
                    # (its client went away) must not write these bytes a second time.
                    pending = asyncio.create_task(asyncio.to_thread(file.write, bytes(buffer)))
                    written += len(buffer)
                    buffer.clear()
                    await asyncio.shield(pending)
        finally:
            if pending is not None and not pending.done():
                await asyncio.wait([pending])
            # At most one buffer, written in place: cleanup must finish even when cancelled.
            file.write(buffer)
            written += len(buffer)
            file.close()
        return written

    async def truncate(self, upload_id: str, size: int) -> None:
        await asyncio.to_thread(os.truncate, self.part(upload_id), size)

    async def remove(self, upload_id: str) -> None:
        """Forget the upload: its description first, so a half-removed one is never resumed."""
        info, part = self._files(upload_id)
        await asyncio.to_thread(info.unlink, missing_ok=True)
        await asyncio.to_thread(part.unlink, missing_ok=True)
        await asyncio.to_thread(self._hash_file(upload_id).unlink, missing_ok=True)
        await asyncio.to_thread((self.directory / f"{upload_id}.lock").unlink, missing_ok=True)

    async def expired(self, older_than_s: float) -> list[str]:
        """Uploads whose last byte came more than ``older_than_s`` ago (or part files left alone)."""
        return await asyncio.to_thread(self._expired, time.time() - older_than_s)

    def _expired(self, before: float) -> list[str]:
        if not self.directory.exists():
            return []
        newest: dict[str, float] = {}
        for path in self.directory.iterdir():
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            newest[path.stem] = max(mtime, newest.get(path.stem, 0.0))
        return sorted(stem for stem, mtime in newest.items() if mtime < before)


__all__ = ["Busy", "Staging", "Upload"]
