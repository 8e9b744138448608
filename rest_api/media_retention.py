"""Pruning media: by age and by total size per kind, and uploads nobody finished.

A file's row goes first, then its bytes once no other row names the same
content: a reader never finds a row whose file is gone. Runs in every API
process (deletes are idempotent), every ``media_prune_interval_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from fleetcore.aio import cancel_and_wait
from fleetcore.log import api_logger
from fleetcore.media.sniff import MediaKind
from fleetcore.metrics import MEDIA_PRUNED
from fleetcore.outage import Outage
from fleetcore.settings import Settings
from fleetcore.store import models as db
from rest_api.media_service import MEDIA_KEY, MediaService

DAY_MS = 86_400_000


async def prune_media(
    service: MediaService, max_age_days: float, max_bytes: int, now_ms: int
) -> dict[str, int]:
    """Remove media stored more than ``max_age_days`` ago (0: no limit) and, per kind, the
    earliest captured past ``max_bytes`` in total (0: no limit); the number removed per kind."""
    removed: dict[str, int] = {}
    for kind in MediaKind:
        doomed: list[tuple[str, str]] = []
        if max_age_days > 0:
            doomed += await db.Media.filter(
                kind=kind.value, unix_millis_upload_time__lt=now_ms - int(max_age_days * DAY_MS)
            ).values_list("id", "sha256")
        if max_bytes > 0:
            kept = 0
            rows = (
                await db.Media.filter(kind=kind.value)
                .order_by("-unix_millis_capture_time", "-unix_millis_upload_time", "-id")
                .values_list("id", "sha256", "size")
            )
            for media_id, sha256, size in rows:
                kept += size
                if kept > max_bytes:
                    doomed.append((media_id, sha256))
        for media_id, sha256 in dict(doomed).items():
            await _remove(service, media_id, sha256)
        if doomed:
            removed[kind.value] = len(dict(doomed))
            MEDIA_PRUNED.labels(kind.value).inc(len(dict(doomed)))
    return removed


async def _remove(service: MediaService, media_id: str, sha256: str) -> None:
    await db.Media.filter(id=media_id).delete()
    if not await db.Media.filter(sha256=sha256).exists():
        await service.store.delete(sha256)
        await service.store.delete(f"{sha256}.thumb{service.thumbnail_px}.jpg")


async def prune_uploads(service: MediaService, expiry_s: float) -> int:
    """Drop uploads idle for ``expiry_s``; how many."""
    expired = await service.staging.expired(expiry_s)
    for upload_id in expired:
        await service.staging.remove(upload_id)
    return len(expired)


def media_retention(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """The cleanup context that prunes every ``media_prune_interval_s`` while the app runs."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_loop(app[MEDIA_KEY], settings))
        yield
        await cancel_and_wait(task)

    return lifetime


async def _loop(service: MediaService, settings: Settings) -> None:
    outage = Outage(api_logger, "pruning media")
    while True:
        try:
            uploads = await prune_uploads(service, settings.media_upload_expiry_s)
            media = await prune_media(
                service,
                settings.media_retention_days,
                settings.media_retention_max_bytes,
                time.time_ns() // 1_000_000,
            )
        except Exception as exc:
            outage.failed(exc)
        else:
            outage.recovered()
            if uploads or media:
                api_logger.info("pruned media %s and %d idle uploads", media, uploads)
        await asyncio.sleep(settings.media_prune_interval_s)
