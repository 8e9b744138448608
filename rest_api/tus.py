"""Resumable media uploads over tus 1.0 (core, creation, termination, checksum).

Why tus: it is plain HTTP (POST to create, PATCH to append at an offset,
HEAD to ask how far the server got), so it passes every proxy; well-kept
clients exist for browsers, Python, Go, Java, Swift, Kotlin, C and more; and a
dropped link resumes from the last byte the server has, not from the start,
which is what robots on a flaky Wi-Fi need. S3 multipart with presigned parts
would tie uploads to S3 and still need a protocol of our own for the embedded
store. No aiohttp tus server on PyPI is kept up to date, and the protocol is
small, so it is written here; its spec is tus.io's ``protocols/resumable-upload``.

These routes are the protocol's, not OpenAPI operations (tus defines their
headers and statuses); the OpenAPI document points to them. Each request
authenticates here (a user, a device token or the site token; see
:mod:`rest_api.media_access`), every creation, completion and termination is
in the audit log, and every refusal is counted by reason
(``fleethub_media_rejected_total``).

Metadata (``Upload-Metadata``, base64 values): ``attached_to`` (alert, robot,
task, event) and ``attached_id`` are required; ``content_type`` (or tus-js-
client's ``filetype``) and ``capture_time`` (Unix milliseconds) are optional.
The type is decided by the file's first bytes (:mod:`fleetcore.media.sniff`):
one not accepted is 415, one that contradicts the declared type 422, a file
over its kind's limit 413.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import uuid

import orjson
from aiohttp import web

from fleetcore.errors import Unauthorized
from fleetcore.log import api_logger, audit_logger
from fleetcore.media import MEDIA_UPLOADS_PATH
from fleetcore.media.sniff import ACCEPTED, SNIFF_BYTES, MediaType, sniff
from fleetcore.metrics import MEDIA_REJECTED, MEDIA_UPLOAD_BYTES, MEDIA_UPLOADS
from fleetcore.store import models as db
from rest_api.access import bearer_token, unauthorized
from rest_api.media_access import (
    ATTACHMENTS,
    AttachmentNotFound,
    Uploader,
    attachment_of,
    now_ms,
    uploader_of,
)
from rest_api.media_service import MEDIA_KEY, MediaService
from rest_api.media_staging import Busy, Upload

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum"
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
CHECKSUM_MISMATCH = 460
"""tus's checksum extension: the PATCH body does not match its Upload-Checksum."""
LOCK_WAIT_S = 10.0
"""How long a PATCH waits for an earlier one on the same upload (whose client is gone but
whose connection the server has not yet seen close)."""


def _refusal(status: int, reason: str, detail: str) -> web.Response:
    MEDIA_REJECTED.labels(reason).inc()
    return web.Response(
        status=status,
        body=orjson.dumps({"detail": detail, "reason": reason}),
        content_type="application/json",
        headers={"Tus-Resumable": TUS_VERSION},
    )


def _parse_metadata(header: str) -> dict[str, str]:
    """``key base64,key base64``; raises ValueError on a malformed pair or value."""
    found: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        if not key or key in found:
            raise ValueError(f"bad metadata key {key!r}")
        try:
            found[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError(f"metadata {key!r} is not base64 of UTF-8") from None
    return found


async def _uploader(request: web.Request, service: MediaService) -> Uploader | web.Response:
    try:
        return await uploader_of(bearer_token(request), service.authenticator, service.site_token)
    except Unauthorized as exc:
        MEDIA_REJECTED.labels("unauthorized").inc()
        return unauthorized(exc)


async def _audit(
    uploader: Uploader, action: str, target: str, detail: dict[str, object], status: int
) -> None:
    await db.AuditEntry.create(
        unix_millis_time=now_ms(),
        username=uploader.name,
        action=action,
        target=target[:512],
        detail=orjson.dumps(detail).decode(),
        status=status,
    )
    audit_logger.info("%s %s %s -> %d", uploader.name, action, target, status)


def _version_refused(request: web.Request) -> web.Response | None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        response = _refusal(412, "tus_version", f"this server speaks tus {TUS_VERSION} only")
        response.headers["Tus-Version"] = TUS_VERSION
        return response
    return None


async def options(request: web.Request) -> web.Response:
    """What this tus server supports (no authentication: it says nothing about any upload)."""
    service = request.app[MEDIA_KEY]
    return web.Response(
        status=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(service.limit(None)),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


async def create(request: web.Request) -> web.Response:
    """Creation: a new upload of ``Upload-Length`` bytes, attached as its metadata says."""
    service = request.app[MEDIA_KEY]
    if (refused := _version_refused(request)) is not None:
        return refused
    uploader = await _uploader(request, service)
    if isinstance(uploader, web.Response):
        return uploader
    length_header = request.headers.get("Upload-Length", "")
    if not length_header.isdigit() or int(length_header) < 1:
        return _refusal(
            400,
            "bad_length",
            "Upload-Length must be a positive integer (deferred lengths are not supported)",
        )
    length = int(length_header)
    try:
        metadata = _parse_metadata(request.headers.get("Upload-Metadata", ""))
    except ValueError as exc:
        return _refusal(400, "bad_metadata", str(exc))
    declared = metadata.get("content_type") or metadata.get("filetype") or None
    media_type = ACCEPTED.get(declared) if declared else None
    if declared and media_type is None:
        return _refusal(
            415,
            "unsupported_type",
            f"{declared} is not accepted; send one of {', '.join(ACCEPTED)}",
        )
    limit = service.limit(media_type.kind if media_type else None)
    if length > limit:
        return _refusal(
            413, "too_large", f"{length} bytes is over the limit of {limit} for this kind"
        )
    capture = metadata.get("capture_time", "")
    if capture and not capture.isdigit():
        return _refusal(400, "bad_metadata", "capture_time must be Unix milliseconds")
    attached_to, attached_id = metadata.get("attached_to", ""), metadata.get("attached_id", "")
    if attached_to not in ATTACHMENTS or not attached_id:
        return _refusal(
            400,
            "bad_metadata",
            f"attached_to (one of {', '.join(ATTACHMENTS)}) and attached_id are required",
        )
    try:
        attachment = await attachment_of(uploader, attached_to, attached_id)
    except AttachmentNotFound as exc:
        return _refusal(404, "not_found", str(exc))
    except ValueError as exc:
        return _refusal(400, "bad_metadata", str(exc))
    target = f"{attached_to}:{attached_id}"
    if not uploader.may_upload_for(attachment.fleet, attachment.robot):
        await _audit(uploader, "create_media_upload", target, {"length": length}, 403)
        return _refusal(403, "forbidden", f"{uploader.name} may not upload media for {target}")
    upload = Upload(
        id=uuid.uuid4().hex,
        length=length,
        uploader=uploader.name,
        attached_to=attached_to,
        attached_id=attached_id,
        fleet=attachment.fleet,
        robot=attachment.robot,
        declared_type=declared,
        capture_ms=int(capture) if capture else now_ms(),
        created_ms=now_ms(),
        metadata=request.headers.get("Upload-Metadata", ""),
    )
    await service.staging.create(upload)
    await _audit(
        uploader, "create_media_upload", target, {"upload": upload.id, "length": length}, 201
    )
    return web.Response(
        status=201,
        headers={"Tus-Resumable": TUS_VERSION, "Location": f"{MEDIA_UPLOADS_PATH}/{upload.id}"},
    )


async def _own_upload(
    request: web.Request, service: MediaService
) -> tuple[Uploader, Upload] | web.Response:
    """The upload in the path, if it is the caller's (anyone else's is not found)."""
    if (refused := _version_refused(request)) is not None:
        return refused
    uploader = await _uploader(request, service)
    if isinstance(uploader, web.Response):
        return uploader
    upload = await service.staging.get(request.match_info["id"])
    if upload is None or not hmac.compare_digest(upload.uploader, uploader.name):
        return _refusal(
            404, "not_found", "no such upload under way (finished, expired or never made)"
        )
    return uploader, upload


async def head(request: web.Request) -> web.Response:
    """How many bytes the server has; an upload whose bytes were all in before a crash is finished now."""
    service = request.app[MEDIA_KEY]
    found = await _own_upload(request, service)
    if isinstance(found, web.Response):
        return found
    uploader, upload = found
    offset = await _offset(service, upload)
    if offset == upload.length:
        # Still being finished by its last PATCH if busy: that one answers, this only reports.
        with contextlib.suppress(Busy):
            async with service.staging.writing(upload.id, LOCK_WAIT_S):
                await _finish(service, uploader, upload)
    return web.Response(
        status=200,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Upload-Offset": str(offset),
            "Upload-Length": str(upload.length),
            "Upload-Metadata": upload.metadata,
            "Cache-Control": "no-store",
        },
    )


async def _offset(service: MediaService, upload: Upload) -> int:
    if await service.staging.hashed(upload.id) is not None:
        return upload.length
    return await service.staging.offset(upload.id)


async def patch(request: web.Request) -> web.Response:
    """Append the body at ``Upload-Offset``; the last byte stores the file and records it."""
    service = request.app[MEDIA_KEY]
    found = await _own_upload(request, service)
    if isinstance(found, web.Response):
        return found
    uploader, upload = found
    if request.content_type != "application/offset+octet-stream":
        return _refusal(415, "bad_content_type", "a PATCH body is application/offset+octet-stream")
    claimed = request.headers.get("Upload-Offset", "")
    if not claimed.isdigit():
        return _refusal(400, "bad_offset", "Upload-Offset must be a non-negative integer")
    digest = None
    expected = b""
    if "Upload-Checksum" in request.headers:
        algorithm, _, encoded = request.headers["Upload-Checksum"].partition(" ")
        if algorithm not in CHECKSUMS:
            return _refusal(400, "bad_checksum_algorithm", f"checksums: {', '.join(CHECKSUMS)}")
        try:
            expected = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return _refusal(400, "bad_checksum", "Upload-Checksum's value is not base64")
        digest = CHECKSUMS[algorithm]()
    try:
        async with service.staging.writing(upload.id, LOCK_WAIT_S):
            return await _append(request, service, uploader, upload, int(claimed), digest, expected)
    except Busy:
        return _refusal(
            423, "busy", "another request is still writing this upload; ask HEAD and retry"
        )


async def _append(
    request: web.Request,
    service: MediaService,
    uploader: Uploader,
    upload: Upload,
    claimed: int,
    digest: hashlib._Hash | None,
    expected: bytes,
) -> web.Response:
    offset = await _offset(service, upload)
    if claimed != offset:
        return _refusal(409, "offset_mismatch", f"the upload is at {offset}, not {claimed}")
    staging = service.staging
    try:
        written = await staging.append(
            upload.id, request.content.iter_chunked(64 << 10), upload.length - offset, digest
        )
    except ValueError:
        await staging.truncate(upload.id, offset)
        return _refusal(413, "past_length", f"the body goes past Upload-Length {upload.length}")
    except ConnectionError:
        # The client went away; what arrived is kept and it resumes from HEAD's offset. A link
        # that drops is an upload's everyday life, not a server error: answered (to nobody), so
        # it is logged here once instead of as a traceback.
        api_logger.info(
            "media upload %s: connection lost at %d", upload.id, await staging.offset(upload.id)
        )
        return web.Response(status=400, headers={"Tus-Resumable": TUS_VERSION})
    MEDIA_UPLOAD_BYTES.inc(written)
    if digest is not None and not hmac.compare_digest(digest.digest(), expected):
        await staging.truncate(upload.id, offset)
        return _refusal(
            CHECKSUM_MISMATCH, "checksum_mismatch", "the body does not match Upload-Checksum"
        )
    new_offset = offset + written
    if offset < SNIFF_BYTES <= new_offset or new_offset == upload.length:
        refused = await _type_refused(service, upload)
        if refused is not None:
            await staging.remove(upload.id)
            await _audit(
                uploader,
                "upload_media",
                f"{upload.attached_to}:{upload.attached_id}",
                {"upload": upload.id},
                refused.status,
            )
            return refused
    if new_offset == upload.length:
        await _finish(service, uploader, upload)
    return web.Response(
        status=204, headers={"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(new_offset)}
    )


async def _type_refused(service: MediaService, upload: Upload) -> web.Response | None:
    """Why the bytes received so far are not an acceptable file of their declared type, if so."""
    found = sniff(await service.staging.head(upload.id))
    if found is None:
        return _refusal(
            415,
            "unsupported_type",
            f"the file is none of {', '.join(ACCEPTED)} (judged by its bytes)",
        )
    if upload.declared_type is not None and upload.declared_type != found.content_type:
        return _refusal(
            422,
            "type_mismatch",
            f"declared {upload.declared_type} but the bytes are {found.content_type}",
        )
    if upload.length > service.limit(found.kind):
        return _refusal(
            413,
            "too_large",
            f"{upload.length} bytes is over the {found.kind} limit of {service.limit(found.kind)}",
        )
    return None


async def _finish(service: MediaService, uploader: Uploader, upload: Upload) -> None:
    """Hash, store, record: each step may be repeated after a crash and ends the same."""
    staging = service.staging
    if await staging.get(upload.id) is None:
        return  # finished meanwhile by the request that held the lock before us
    sha256 = await staging.hashed(upload.id)
    if sha256 is None:
        sha256 = await staging.sha256(upload.id)
        await staging.mark_hashed(upload.id, sha256)
    media_type = await _stored_type(service, upload, sha256)
    if not await service.store.exists(sha256):
        await service.store.put(sha256, staging.part(upload.id), media_type.content_type)
    _, created = await db.Media.get_or_create(
        id=upload.id,
        defaults={
            "sha256": sha256,
            "size": upload.length,
            "content_type": media_type.content_type,
            "kind": media_type.kind.value,
            "attached_to": upload.attached_to,
            "attached_id": upload.attached_id,
            "fleet": upload.fleet,
            "robot": upload.robot,
            "unix_millis_capture_time": upload.capture_ms,
            "unix_millis_upload_time": now_ms(),
            "uploaded_by": upload.uploader,
            "seq": None,
        },
    )
    await staging.remove(upload.id)
    if created:
        MEDIA_UPLOADS.labels(media_type.kind.value).inc()
        target = f"{upload.attached_to}:{upload.attached_id}"
        await _audit(
            uploader,
            "upload_media",
            target,
            {"media": upload.id, "sha256": sha256, "size": upload.length},
            201,
        )


async def _stored_type(service: MediaService, upload: Upload, sha256: str) -> MediaType:
    """The type judged before the bytes were handed over; after a crash, from the stored file."""
    if service.staging.part(upload.id).exists():
        head = await service.staging.head(upload.id)
    else:
        head = b"".join([chunk async for chunk in service.store.read(sha256, 0, SNIFF_BYTES)])
    found = sniff(head)
    assert found is not None, "only sniffed files are hashed"
    return found


async def terminate(request: web.Request) -> web.Response:
    """Termination: the upload and its bytes are dropped."""
    service = request.app[MEDIA_KEY]
    found = await _own_upload(request, service)
    if isinstance(found, web.Response):
        return found
    uploader, upload = found
    async with service.staging.writing(upload.id, LOCK_WAIT_S):
        await service.staging.remove(upload.id)
    await _audit(
        uploader,
        "terminate_media_upload",
        f"{upload.attached_to}:{upload.attached_id}",
        {"upload": upload.id},
        204,
    )
    return web.Response(status=204, headers={"Tus-Resumable": TUS_VERSION})


def add_tus_routes(app: web.Application) -> None:
    app.router.add_route("OPTIONS", MEDIA_UPLOADS_PATH, options)
    app.router.add_post(MEDIA_UPLOADS_PATH, create)
    app.router.add_route("HEAD", MEDIA_UPLOADS_PATH + "/{id}", head)
    app.router.add_patch(MEDIA_UPLOADS_PATH + "/{id}", patch)
    app.router.add_delete(MEDIA_UPLOADS_PATH + "/{id}", terminate)


__all__ = ["TUS_VERSION", "add_tus_routes"]
