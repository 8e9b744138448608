"""What the media routes (uploads and reads) share through the app: limits, store, staging, URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from fleetcore.auth import Authenticator
from fleetcore.map_images import MapImageUrls
from fleetcore.media.sniff import MediaKind
from fleetcore.media.store import MediaStore, media_root, store_from_settings
from fleetcore.settings import Settings
from rest_api.media_staging import Staging


@dataclass(frozen=True, slots=True)
class MediaService:
    store: MediaStore
    staging: Staging
    authenticator: Authenticator
    site_token: str
    limits: dict[MediaKind, int]
    urls: MapImageUrls
    """Signs media URLs (the building map's scheme, with the media TTL)."""
    thumbnail_px: int

    @classmethod
    def create(cls, settings: Settings, authenticator: Authenticator) -> MediaService:
        return cls(
            store_from_settings(settings),
            Staging(
                Path(settings.media_upload_dir)
                if settings.media_upload_dir
                else media_root(settings) / "uploads"
            ),
            authenticator,
            settings.ingest_token,
            {
                MediaKind.image: settings.media_image_max_bytes,
                MediaKind.video: settings.media_video_max_bytes,
            },
            replace(MapImageUrls.from_settings(settings), ttl_s=settings.media_url_ttl_s),
            settings.media_thumbnail_px,
        )

    def limit(self, kind: MediaKind | None) -> int:
        """The most bytes a file of ``kind`` may have (None: not known yet, the largest)."""
        return self.limits[kind] if kind is not None else max(self.limits.values())


MEDIA_KEY = web.AppKey("rest_api_media", MediaService)


async def media_lifetime(app: web.Application) -> AsyncIterator[None]:
    """Closes the store's connections with the app."""
    yield
    await app[MEDIA_KEY].store.aclose()


__all__ = ["MEDIA_KEY", "MediaService", "media_lifetime"]
