"""Building responses: spliced JSON bytes, stream-position headers, JSON errors.

Bodies are assembled from JSON the hub already encoded (the bus's
``data_json``, the database's ``data`` column) instead of decoding and
re-encoding it per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from fleetcore.contract.envelope import Publication, StreamPosition

SEQ_HEADER = "X-Fleethub-Seq"
EPOCH_HEADER = "X-Fleethub-Epoch"
JSON = "application/json"


def json_array(items: Iterable[bytes]) -> bytes:
    """Splice already-encoded JSON values into one array."""
    return b"[" + b",".join(items) + b"]"


def positioned(body: bytes, position: StreamPosition) -> web.Response:
    """A JSON snapshot stamped with the stream position it reflects."""
    return web.Response(
        body=body,
        content_type=JSON,
        headers={SEQ_HEADER: str(position.seq), EPOCH_HEADER: str(position.epoch)},
    )


def sticky_response(pub: Publication) -> web.Response:
    """One sticky value, stamped with the seq of the publication that set it."""
    return positioned(pub.data_json, pub.position)


def json_body(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type=JSON)


def not_found(detail: str) -> web.HTTPNotFound:
    """A 404 whose JSON body names what was missing (rmf-web's ``{"detail": ...}``)."""
    return web.HTTPNotFound(text=_text({"detail": detail}), content_type=JSON)


def unprocessable(errors: list[dict[str, Any]]) -> web.HTTPUnprocessableEntity:
    """A 422 listing each bad field, in FastAPI's shape so rmf-web clients read it."""
    return web.HTTPUnprocessableEntity(text=_text({"detail": errors}), content_type=JSON)


def _text(value: Any) -> str:
    # aiohttp deprecates ``body=`` on its HTTP exceptions; they take text.
    return orjson.dumps(value).decode()
