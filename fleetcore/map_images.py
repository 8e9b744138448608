"""Building-map image URLs a browser on another origin can load: absolute, signed, short-lived.

The hub stores each floor image once, by the SHA-256 of its bytes, and
publishes the map with paths (``/building_map/images/<sha256>``): nothing
that depends on where or when a client reads it is baked into a stored
publication. The readers make them URLs as they hand the map out (REST and
the proxy alike): absolute under ``public_url`` (or the URL the request came
to), as rmf-web's are, and signed.

Why signed: rmf-web's dashboard loads the image with three.js's
TextureLoader, an ``<img crossorigin=anonymous>``, which carries no bearer
token. So the URL itself is the permission: ``expires`` and an HMAC-SHA256 of
path and expiry with ``url_signing_key``. Only whoever could read the map
(which needs a token) gets such a URL, and it stops working between
``image_url_ttl_s`` and twice that later. Expiry is rounded to a period, so
every client in one period gets the same bytes (the proxy encodes the map
once per period, not once per client). A bearer token still works too.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
from aiohttp import web

from fleetcore.errors import ConfigError
from fleetcore.secret_files import require_secret, with_generated
from fleetcore.settings import Settings

MAP_IMAGE_PATH = "/building_map/images/{sha256}"
"""Where the REST API serves an image; the path the hub publishes in the map."""
_PATH_PREFIX = MAP_IMAGE_PATH.split("{", 1)[0]
MIN_KEY_BYTES = 32
_DERIVATION = b"fleethub building-map image URLs v1"


@dataclass(frozen=True, slots=True)
class MapImageUrls:
    """Makes and checks image URLs; ``key`` None (auth off) makes them unsigned."""

    key: bytes | None
    ttl_s: int
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> MapImageUrls:
        """Raises :class:`ConfigError` when auth is on and there is no key to sign with."""
        if settings.image_url_ttl_s < 1:
            raise ConfigError("image_url_ttl_s must be at least 1 second")
        return cls(_key(settings), settings.image_url_ttl_s, settings.public_url.rstrip("/"))

    def period(self, now_s: float | None = None) -> int:
        """The signing period of ``now_s``: URLs made in one period are the same."""
        return int((time.time() if now_s is None else now_s) // self.ttl_s)

    def expires(self, period: int) -> int:
        return (period + 2) * self.ttl_s

    def base_url(self, request: web.Request) -> str:
        """``public_url``, else the scheme and host ``request`` came to (a proxy's forwarded ones)."""
        if self.public_url:
            return self.public_url
        scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        return f"{scheme or request.scheme}://{host or request.host}"

    def url(self, path: str, base_url: str, period: int) -> str:
        if self.key is None:
            return base_url + path
        expires = self.expires(period)
        query = urlencode({"expires": expires, "signature": self._signature(path, expires)})
        return f"{base_url}{path}?{query}"

    def verify(self, path: str, expires: str, signature: str, now_s: float | None = None) -> bool:
        """Whether ``signature`` signs ``path`` until ``expires``, and that is not past."""
        if self.key is None or not expires.isdigit() or len(expires) > 12:
            return False
        if int(expires) < (time.time() if now_s is None else now_s):
            return False
        return hmac.compare_digest(self._signature(path, int(expires)), signature)

    def absolute(self, map_json: bytes, base_url: str, period: int) -> bytes:
        """The building map with every stored image's path made a URL for this period."""
        building = orjson.loads(map_json)
        for level in building.get("levels") or ():
            for image in level.get("images") or ():
                data = image.get("data")
                if isinstance(data, str) and data.startswith(_PATH_PREFIX):
                    image["data"] = self.url(data, base_url, period)
        return orjson.dumps(building)

    def _signature(self, path: str, expires: int) -> str:
        assert self.key is not None
        message = f"{path}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def with_generated_url_signing_key(settings: Settings) -> Settings:
    """For ``fleethub up``: a key of its own when there is no JWT secret to derive one from."""
    if settings.auth_mode == "off" or settings.jwt_secret:
        return settings
    return with_generated(settings, "url_signing_key", "url_signing_key")


def _key(settings: Settings) -> bytes | None:
    if settings.url_signing_key:
        return require_secret(
            settings,
            "url_signing_key",
            MIN_KEY_BYTES,
            "signing building-map image URLs",
            "set it to a random string of 32+ bytes, the same for the REST API and every proxy",
        ).encode()
    if settings.jwt_secret:
        # Distinct from the token key: an image URL's signature is no token's.
        return hmac.new(settings.jwt_secret.encode(), _DERIVATION, hashlib.sha256).digest()
    if settings.auth_mode == "off":
        return None
    raise ConfigError(
        "signing building-map image URLs needs FLEETHUB_URL_SIGNING_KEY (32+ bytes, the same for "
        "the REST API and every proxy) when there is no FLEETHUB_JWT_SECRET to derive it from"
    )


__all__ = ["MAP_IMAGE_PATH", "MapImageUrls", "with_generated_url_signing_key"]
