"""Building-map images for a dashboard on another origin: absolute, signed, short-lived URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from fleetcore.bus.memory import InMemoryBus
from fleetcore.errors import ConfigError
from fleetcore.map_images import MapImageUrls
from fleetcore.settings import Settings
from fleetcore.store.models import MapImage
from rest_api.access import AUTH_KEY
from rest_api.app import create_app
from tests.helpers import JWT_SECRET
from tests.rest_api.conftest import AiohttpClient, Client, FakeHub

SHA = "ab" * 32
PNG = b"\x89PNG-bytes"
BUILDING = {
    "name": "b",
    "lifts": [],
    "levels": [
        {
            "name": "L1",
            "elevation": 0.0,
            "images": [
                {
                    "name": "floor",
                    "x_offset": 0.0,
                    "y_offset": 0.0,
                    "yaw": 0.0,
                    "scale": 0.1,
                    "encoding": "png",
                    "data": f"/building_map/images/{SHA}",
                }
            ],
            "places": [],
            "doors": [],
            "nav_graphs": [],
            "wall_graph": {"name": "", "vertices": [], "edges": [], "params": []},
        }
    ],
}


@pytest.fixture
async def secured(
    aiohttp_client: AiohttpClient, settings: Settings, bus: InMemoryBus, database: None
) -> AsyncIterator[Client]:
    on = settings.replace(
        auth_mode="jwt", jwt_secret=JWT_SECRET, public_url="https://rmf.example/api"
    )
    client = await aiohttp_client(create_app(on, bus, manage_database=False))
    await MapImage.create(sha256=SHA, content_type="image/png", data=PNG)
    yield client


async def _image_url(client: Client, hub: FakeHub) -> str:
    await hub.publish("/building_map", BUILDING)
    headers = {"Authorization": f"Bearer {await _token(client)}"}
    building = await (await client.get("/building_map", headers=headers)).json()
    url: str = building["levels"][0]["images"][0]["data"]
    return url


async def _token(client: Client) -> str:
    token, _ = client.app[AUTH_KEY].verifier.issue("admin", 60)
    return token


async def test_the_map_gives_absolute_signed_urls_under_the_public_url(
    secured: Client, hub: FakeHub
) -> None:
    url = await _image_url(secured, hub)

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"https://rmf.example/api/building_map/images/{SHA}"
    )
    assert set(parse_qs(parts.query)) == {"expires", "signature"}


async def test_a_signed_url_loads_the_image_without_a_token(secured: Client, hub: FakeHub) -> None:
    parts = urlsplit(await _image_url(secured, hub))

    answer = await secured.get(f"/building_map/images/{SHA}?{parts.query}")

    assert answer.status == 200
    assert await answer.read() == PNG
    assert answer.headers["Cache-Control"].startswith("private, max-age=")


@pytest.mark.parametrize(
    "query",
    ["", "expires=9999999999&signature=" + "0" * 64, "expires=1&signature=x"],
    ids=["unsigned", "forged", "expired"],
)
async def test_an_image_without_a_valid_signature_or_token_is_401(
    secured: Client, query: str
) -> None:
    answer = await secured.get(f"/building_map/images/{SHA}?{query}")

    assert answer.status == 401


async def test_a_signature_is_for_one_image_only(secured: Client, hub: FakeHub) -> None:
    parts = urlsplit(await _image_url(secured, hub))
    other = "cd" * 32
    await MapImage.create(sha256=other, content_type="image/png", data=b"other")

    answer = await secured.get(f"/building_map/images/{other}?{parts.query}")

    assert answer.status == 401


async def test_a_bearer_token_still_loads_an_image(secured: Client) -> None:
    headers = {"Authorization": f"Bearer {await _token(secured)}"}

    answer = await secured.get(f"/building_map/images/{SHA}", headers=headers)

    assert answer.status == 200


async def test_without_a_public_url_the_url_is_the_one_the_request_came_to(
    client: Client, hub: FakeHub
) -> None:
    await hub.publish("/building_map", BUILDING)

    building = await (
        await client.get("/building_map", headers={"X-Forwarded-Proto": "https"})
    ).json()

    host = f"{client.server.host}:{client.server.port}"
    assert building["levels"][0]["images"][0]["data"] == (
        f"https://{host}/building_map/images/{SHA}"
    )


def test_urls_of_one_period_are_the_same_and_work_until_two_periods_on() -> None:
    urls = MapImageUrls(b"k" * 32, ttl_s=100, public_url="")
    now = 1_000_050.0
    period = urls.period(now)

    url = urls.url(f"/building_map/images/{SHA}", "http://h", period)

    assert url == urls.url(f"/building_map/images/{SHA}", "http://h", urls.period(now + 49))
    query = parse_qs(urlsplit(url).query)
    expires, signature = query["expires"][0], query["signature"][0]
    path = f"/building_map/images/{SHA}"
    assert urls.verify(path, expires, signature, now_s=now + 149)
    assert not urls.verify(path, expires, signature, now_s=int(expires) + 1)


def test_with_auth_on_and_no_secret_to_sign_with_the_setting_is_named() -> None:
    settings = Settings(auth_mode="jwt", jwt_algorithms=("RS256",), jwks_url="http://idp/certs")

    with pytest.raises(ConfigError, match="FLEETHUB_URL_SIGNING_KEY"):
        MapImageUrls.from_settings(settings)


def test_the_map_rewrite_leaves_other_image_data_alone() -> None:
    urls = MapImageUrls(None, ttl_s=100, public_url="")
    building = {**BUILDING, "levels": [{"name": "L2", "images": [{"data": "https://cdn/x.png"}]}]}

    rewritten = orjson.loads(urls.absolute(orjson.dumps(building), "http://h", 1))

    assert rewritten["levels"][0]["images"][0]["data"] == "https://cdn/x.png"
