"""Reading media: lists by what it is attached to and by time, downloads with Range, thumbnails.

Who sees a file is decided by the robot its attachment concerned when it
arrived (``fleet``/``robot`` of its row), by the same rule as derived events:
another group's media is not found. Files whose attachment concerned no robot
(an alert about nothing in particular) are shown to administrators only.

Downloads answer HTTP Range (a video seeks), carry the file's SHA-256 as a
strong ETag and are cached privately. An ``<img>`` or ``<video>`` sends no
bearer header, so each listed item carries short-lived signed URLs
(``media_url_ttl_s``), the building map's scheme: the URL is the permission.
Uploads are :mod:`rest_api.tus`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.queryset import QuerySet

from fleetcore.auth import Permission, Principal
from fleetcore.log import api_logger
from fleetcore.store import models as db
from rest_api.access import PUBLIC, principal_of, reads, signed_or_bearer
from rest_api.media_service import MEDIA_KEY, MediaService
from rest_api.query import MAX_LIMIT, CommaList, TimeRange
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body, not_found
from rest_api.visibility import event_filter

if TYPE_CHECKING:
    from PIL import Image

routes = ApiRoutes("Media", access=reads(Permission.robot_read))

POSTERS = importlib.util.find_spec("av") is not None
"""Whether video gets a poster frame: PyAV (``av``, a dependency) is installed."""
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class MediaItem(BaseModel):
    """One stored photo or clip and where to get it."""

    id: str
    sha256: str
    size: int
    content_type: str
    kind: Literal["image", "video"]
    attached_to: Literal["alert", "robot", "task", "event"]
    attached_id: str
    fleet: str | None
    robot: str | None
    unix_millis_capture_time: int
    unix_millis_upload_time: int
    uploaded_by: str
    url: str
    """The file, signed for a while (no bearer token needed)."""
    thumbnail_url: str | None
    """A small JPEG of an image or of a video's first frame (its poster), signed likewise;
    None for video where PyAV is not installed."""


class MediaQuery(BaseModel):
    """``GET /media``: filters (all must hold), newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    attached_to: Literal["alert", "robot", "task", "event"] | None = Field(
        None, description="What the media is attached to."
    )
    attached_id: CommaList = Field(
        None, description="Comma separated ids of what it is attached to (a robot's: fleet/robot)."
    )
    fleet: CommaList = Field(None, description="Comma separated fleet names.")
    robot: CommaList = Field(None, description="Comma separated robot names.")
    between: TimeRange = Field(None, description="Range of the capture time.")
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = Field(100, description="Most items.")
    offset: Annotated[int, Field(ge=0, le=2**31 - 1)] = Field(0, description="Items to skip.")


def _visible(principal: Principal) -> QuerySet[db.Media]:
    rows = db.Media.all()
    visible = event_filter(principal)
    return rows if visible is None else rows.filter(visible)


def _item(request: web.Request, media: db.Media, period: int) -> dict[str, object]:
    urls = request.app[MEDIA_KEY].urls
    base = urls.base_url(request)
    return {
        **{name: getattr(media, name) for name in MediaItem.model_fields if hasattr(media, name)},
        "url": urls.url(f"/media/{media.id}/content", base, period),
        "thumbnail_url": urls.url(f"/media/{media.id}/thumbnail", base, period)
        if media.kind == "image" or POSTERS
        else None,
    }


@routes.get_query("/media", query=MediaQuery, response=list[MediaItem])
async def query_media(request: web.Request, query: MediaQuery) -> web.Response:
    """Media matching every given filter, newest capture first."""
    rows = _visible(principal_of(request))
    if query.attached_to is not None:
        rows = rows.filter(attached_to=query.attached_to)
    for column in ("attached_id", "fleet", "robot"):
        values = getattr(query, column)
        if values is not None:
            rows = rows.filter(**{f"{column}__in": values})
    if query.between is not None:
        start, end = query.between
        rows = rows.filter(unix_millis_capture_time__gte=start, unix_millis_capture_time__lte=end)
    found = (
        await rows.order_by("-unix_millis_capture_time", "id")
        .offset(query.offset)
        .limit(query.limit)
    )
    period = request.app[MEDIA_KEY].urls.period()
    return json_body([_item(request, media, period) for media in found])


@routes.get("/media/{id}", response=MediaItem, errors=(404,))
async def get_media(request: web.Request) -> web.Response:
    """One media item (another group's is not found)."""
    media = await _visible(principal_of(request)).get_or_none(id=request.match_info["id"])
    if media is None:
        raise not_found(f"no media {request.match_info['id']!r}")
    return json_body(_item(request, media, request.app[MEDIA_KEY].urls.period()))


async def _readable(
    request: web.Request, service: MediaService
) -> tuple[db.Media, int] | web.Response:
    """The media in the path for a signed URL or a bearer token, and how long it may be cached."""
    access = await signed_or_bearer(request, service.urls)
    if isinstance(access, web.Response):
        return access
    rows = db.Media.all() if access.principal is None else _visible(access.principal)
    media = await rows.get_or_none(id=request.match_info["id"])
    if media is None:
        raise not_found(f"no media {request.match_info['id']!r}")
    return media, access.max_age


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``bytes=`` range; None: serve it whole (RFC 9110 allows
    ignoring what it does not take, such as several ranges). ValueError: unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise ValueError("outside the file")
    return start, end


@routes.get(
    "/media/{id}/content",
    response=None,
    media_type="application/octet-stream",
    errors=(401, 404),
    access=PUBLIC,
)
async def get_media_content(request: web.Request) -> web.StreamResponse:
    """The file, for a signed URL or a bearer token; HTTP Range, ETag and caching headers.

    A single ``Range: bytes=...`` is answered 206 with that part (416 when it
    is outside the file); ``If-None-Match`` with the ETag is 304.
    """
    service = request.app[MEDIA_KEY]
    found = await _readable(request, service)
    if isinstance(found, web.Response):
        return found
    media, max_age = found
    etag = f'"{media.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": f"private, max-age={max_age}",
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    start, end, status = 0, media.size - 1, 200
    if "Range" in request.headers and request.headers.get("If-Range", etag) == etag:
        try:
            wanted = _byte_range(request.headers["Range"], media.size)
        except ValueError:
            return web.Response(
                status=416, headers={**headers, "Content-Range": f"bytes */{media.size}"}
            )
        if wanted is not None:
            (start, end), status = wanted, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{media.size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = media.content_type
    response.content_length = end - start + 1
    await response.prepare(request)
    if request.method != "HEAD":
        async for chunk in service.store.read(media.sha256, start, end - start + 1):
            await response.write(chunk)
    await response.write_eof()
    return response


@routes.get(
    "/media/{id}/thumbnail",
    response=None,
    media_type="image/jpeg",
    errors=(401, 404),
    access=PUBLIC,
)
async def get_media_thumbnail(request: web.Request) -> web.Response:
    """A small JPEG of an image, or of a video's first frame (its poster), made once and kept
    beside it; none (404) for what it cannot be made of, or for video where PyAV is missing."""
    service = request.app[MEDIA_KEY]
    found = await _readable(request, service)
    if isinstance(found, web.Response):
        return found
    media, max_age = found
    key = f"{media.sha256}.thumb{service.thumbnail_px}.jpg"
    if not await service.store.exists(key):
        if media.kind == "image":
            original = b"".join(
                [chunk async for chunk in service.store.read(media.sha256, 0, media.size)]
            )
            thumbnail = await asyncio.to_thread(_thumbnail, original, service.thumbnail_px)
        else:
            thumbnail = await _poster(service, media)
        if thumbnail is None:
            raise not_found(f"media {media.id!r} has no thumbnail")
        await service.store.put_bytes(key, thumbnail, "image/jpeg")
    body = b"".join([chunk async for chunk in service.store.read(key, 0, 1 << 24)])
    return web.Response(
        body=body,
        content_type="image/jpeg",
        headers={"ETag": f'"{media.sha256}-thumb"', "Cache-Control": f"private, max-age={max_age}"},
    )


def _thumbnail(original: bytes, px: int) -> bytes | None:
    """A JPEG at most ``px`` on its longer side, or None when Pillow cannot read the image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(original)) as image:
            return _small_jpeg(image, px)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        api_logger.info("no thumbnail: %s", exc)
        return None


def _small_jpeg(image: Image.Image, px: int) -> bytes:
    image.thumbnail((px, px))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


async def _poster(service: MediaService, media: db.Media) -> bytes | None:
    """A video's first frame as a thumbnail; None where PyAV is missing or cannot decode it.

    The video is copied to a temporary file first, chunk by chunk, so a large
    clip is never held whole in memory (an MP4's index may sit at its end, so
    decoding needs the file, not a prefix). The copy goes beside the uploads
    under way, where there is room for a whole video, not to ``/tmp`` (small on
    Kubernetes).
    """
    if not POSTERS:
        api_logger.info("no poster frame for %s: PyAV (av) is not installed", media.id)
        return None
    folder_of = tempfile.TemporaryDirectory(prefix="poster-", dir=service.staging.directory.parent)
    with folder_of as folder:
        path = Path(folder) / "video"
        with path.open("wb") as copy:
            async for chunk in service.store.read(media.sha256, 0, media.size):
                await asyncio.to_thread(copy.write, chunk)
        return await asyncio.to_thread(_first_frame, path, service.thumbnail_px)


def _first_frame(path: Path, px: int) -> bytes | None:
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return _small_jpeg(frame.to_image(), px)  # type: ignore[no-untyped-call]
    except (av.FFmpegError, IndexError, ValueError) as exc:
        api_logger.info("no poster frame: %s", exc)
    return None
