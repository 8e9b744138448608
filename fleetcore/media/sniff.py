"""What a media file is, judged by its first bytes, never by its name or declared type.

A client names a content type in its upload's metadata, but that is a claim:
a file is accepted only when its magic number says it is one of the types
below, and the claim (if any) agrees. The kind (image or video) decides the
size limit and the retention budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SNIFF_BYTES = 32
"""Enough of a file's start to tell every accepted type apart."""


class MediaKind(StrEnum):
    image = "image"
    video = "video"


@dataclass(frozen=True, slots=True)
class MediaType:
    content_type: str
    kind: MediaKind


JPEG = MediaType("image/jpeg", MediaKind.image)
PNG = MediaType("image/png", MediaKind.image)
WEBP = MediaType("image/webp", MediaKind.image)
MP4 = MediaType("video/mp4", MediaKind.video)
QUICKTIME = MediaType("video/quicktime", MediaKind.video)
WEBM = MediaType("video/webm", MediaKind.video)

ACCEPTED = {t.content_type: t for t in (JPEG, PNG, WEBP, MP4, QUICKTIME, WEBM)}
"""Every accepted type by its content type."""


def sniff(head: bytes) -> MediaType | None:
    """The type ``head`` (a file's first :data:`SNIFF_BYTES`) starts, or None: not one we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    if head[4:8] == b"ftyp":
        # ISO base media: the major brand tells QuickTime from the MP4 family.
        return QUICKTIME if head[8:12] == b"qt  " else MP4
    return None


__all__ = ["ACCEPTED", "SNIFF_BYTES", "MediaKind", "MediaType", "sniff"]
