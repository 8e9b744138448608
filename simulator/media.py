"""What a simulated robot sees when it is stuck or fails a task, uploaded as a field robot would.

A robot that stops (:meth:`~simulator.simulation.Simulation.set_robot_stopped`)
or fails its task (a fault, a failed hand-over) is an
:class:`~simulator.simulation.Incident`. For each, :class:`MediaUploader`
draws a snapshot of the map around the robot (Pillow) and, now and then, a
short clip of it (PyAV, where installed), and uploads them over tus with the
robot's own device token, attached to the failed task, or to the robot when
it is stuck: the hub's alert about a stuck robot names the robot, and a robot
cannot know the alert's id. Now and then an upload drops its connection
midway and resumes from the offset the server reports, as on a flaky link.

Off unless ``sim_media`` is set (``fleethub up`` sets it): the embedded setup
issues the device tokens (:func:`fleethub.embedded.simulated_site`).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import math
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from PIL import Image, ImageDraw

from fleetcore.aio import cancel_all
from fleetcore.log import sim_logger
from simulator.building import Site
from simulator.simulation import Incident

SNAPSHOT_SIZE = (320, 240)
CLIP_SIZE = (160, 120)
CLIP_FRAMES = 12
CLIP_FPS = 6
PX_PER_M = 16.0
CHUNK = 16 << 10
TUS = {"Tus-Resumable": "1.0.0"}
ATTEMPTS = 8
"""Tries of one request (creation waits for the task to reach the store; a PATCH for an
earlier dropped one the server has not yet seen close)."""
RETRY_S = 0.5
DROP_WAITS, DROP_WAIT_S = 40, 0.05
"""How long a dropping PATCH waits for the server to have some of its bytes (a server reads
in chunks, so a small file may arrive whole or not at all): then the link drops anyway."""


def snapshot(site: Site, incident: Incident, size: tuple[int, int] = SNAPSHOT_SIZE) -> Image.Image:
    """The lanes and places of the robot's level around it, the robot a red disc in the middle."""
    width, height = size
    image = Image.new("RGB", size, (235, 235, 235))
    draw = ImageDraw.Draw(image)
    scale = PX_PER_M * width / SNAPSHOT_SIZE[0]

    def px(x: float, y: float) -> tuple[float, float]:
        return width / 2 + (x - incident.x) * scale, height / 2 - (y - incident.y) * scale

    vertices = site.vertices
    for a, b in site.lanes:
        if vertices[a].level == incident.level == vertices[b].level:
            start, end = vertices[a], vertices[b]
            draw.line([px(start.x, start.y), px(end.x, end.y)], fill=(150, 150, 150), width=3)
    for place in site.places(incident.level):
        x, y = px(place.x, place.y)
        draw.rectangle([x - 3, y - 3, x + 3, y + 3], fill=(70, 110, 180))
    radius = max(3.0, 0.4 * scale)
    draw.ellipse(
        [width / 2 - radius, height / 2 - radius, width / 2 + radius, height / 2 + radius],
        fill=(210, 40, 40),
    )
    draw.text((4, 4), f"{incident.fleet}/{incident.robot}: {incident.what}", fill=(0, 0, 0))
    return image


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


CLIPS = importlib.util.find_spec("av") is not None
"""Whether clips can be made: PyAV (``av``) is installed."""


def clip(frames: list[Image.Image], fps: int = CLIP_FPS) -> bytes:
    """An MP4 (MPEG-4 Part 2, FFmpeg's own encoder, so any PyAV build has it) of ``frames``."""
    import av

    out = io.BytesIO()
    width, height = frames[0].size
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_image(image.convert("RGB"))  # type: ignore[no-untyped-call]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def incident_clip(site: Site, incident: Incident) -> bytes:
    """A short clip: the snapshot, its robot's disc pulsing."""
    frames = []
    for i in range(CLIP_FRAMES):
        image = snapshot(site, incident, CLIP_SIZE)
        grow = 3 * (1 + math.sin(i * math.pi / 3))
        w, h = CLIP_SIZE
        ImageDraw.Draw(image).ellipse(
            [w / 2 - 6 - grow, h / 2 - 6 - grow, w / 2 + 6 + grow, h / 2 + 6 + grow],
            outline=(210, 40, 40),
            width=2,
        )
        frames.append(image)
    return clip(frames)


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class UploadRefused(Exception):
    """The server refused an upload for good (its status and answer)."""


@dataclass(frozen=True, slots=True)
class MediaUploadConfig:
    api_url: str
    """The REST API's base URL (``http://host:port``)."""
    tokens: Mapping[tuple[str, str], str]
    """Each simulated robot's device token, by (fleet, robot)."""
    clip_probability: float = 0.3
    drop_probability: float = 0.3
    seed: int = 0


class MediaUploader:
    """Uploads each incident's snapshot (and sometimes a clip) in the background."""

    def __init__(self, site: Site, config: MediaUploadConfig) -> None:
        self.site = site
        self.config = config
        self._rng = random.Random(config.seed)
        self._session: aiohttp.ClientSession | None = None
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, incident: Incident) -> None:
        """Start uploading what the robot saw; a robot with no token is skipped."""
        if (incident.fleet, incident.robot) not in self.config.tokens:
            return
        with_clip = CLIPS and self._rng.random() < self.config.clip_probability
        drop = self._rng.random() < self.config.drop_probability
        task = asyncio.create_task(self._upload_incident(incident, with_clip, drop))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def aclose(self) -> None:
        await cancel_all(list(self._running))
        if self._session is not None:
            await self._session.close()

    async def _upload_incident(self, incident: Incident, with_clip: bool, drop: bool) -> None:
        try:
            files = [(await asyncio.to_thread(self._snapshot, incident), "image/jpeg")]
            if with_clip:
                files.append(
                    (await asyncio.to_thread(incident_clip, self.site, incident), "video/mp4")
                )
            for data, content_type in files:
                await self.upload(incident, data, content_type, drop=drop)
        except (aiohttp.ClientError, UploadRefused, TimeoutError) as exc:
            sim_logger.warning(
                "media of %s/%s not uploaded: %s", incident.fleet, incident.robot, exc
            )

    def _snapshot(self, incident: Incident) -> bytes:
        return jpeg(snapshot(self.site, incident))

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def upload(
        self, incident: Incident, data: bytes, content_type: str, *, drop: bool = False
    ) -> str:
        """Upload ``data`` over tus; with ``drop``, the first PATCH breaks off halfway and the
        rest is sent from the offset the server reports. Returns the upload's URL."""
        auth = {"Authorization": f"Bearer {self.config.tokens[(incident.fleet, incident.robot)]}"}
        attached = (
            ("task", incident.task_id)
            if incident.task_id
            else ("robot", f"{incident.fleet}/{incident.robot}")
        )
        headers = {
            **TUS,
            **auth,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": _metadata(
                attached_to=attached[0],
                attached_id=attached[1],
                content_type=content_type,
                capture_time=str(incident.time_ms),
            ),
        }
        url = await self._create(headers)
        if drop:
            await self._patch_broken_off(url, auth, data, len(data) // 2)
        for _ in range(ATTEMPTS):
            offset = await self._offset(url, auth)
            if offset == len(data):
                return url
            if offset > 0:
                sim_logger.info("media upload %s resumes at byte %d of %d", url, offset, len(data))
            status = await self._patch(url, auth, offset, _chunks(data[offset:]))
            if status == 204:
                return url
            if status not in (409, 423):
                raise UploadRefused(f"PATCH {url}: {status}")
            await asyncio.sleep(RETRY_S)
        raise UploadRefused(f"PATCH {url}: gave up after {ATTEMPTS} tries")

    async def _create(self, headers: dict[str, str]) -> str:
        base = self.config.api_url.rstrip("/")
        for _ in range(ATTEMPTS):
            async with self.session.post(base + "/media/uploads", headers=headers) as response:
                if response.status == 201:
                    return base + response.headers["Location"]
                answer = await response.text()
            # 404: the task has not reached the store yet.
            if response.status != 404:
                break
            await asyncio.sleep(RETRY_S)
        raise UploadRefused(f"creating an upload: {response.status} {answer}")

    async def _offset(self, url: str, auth: dict[str, str]) -> int:
        async with self.session.head(url, headers={**TUS, **auth}) as response:
            if response.status != 200:
                raise UploadRefused(f"HEAD {url}: {response.status}")
            return int(response.headers["Upload-Offset"])

    async def _patch(
        self, url: str, auth: dict[str, str], offset: int, body: AsyncIterator[bytes]
    ) -> int:
        headers = {
            **TUS,
            **auth,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        }
        async with self.session.patch(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def _patch_broken_off(
        self, url: str, auth: dict[str, str], data: bytes, sent: int
    ) -> None:
        """A PATCH whose connection breaks once the server has some of its first ``sent`` bytes,
        as a link that drops midway."""
        arrived = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            async for chunk in _chunks(data[:sent]):
                yield chunk
            await arrived.wait()
            raise _LinkDropped("the link dropped")

        patch = asyncio.create_task(self._patch(url, auth, 0, body()))
        try:
            for _ in range(DROP_WAITS):
                if patch.done() or await self._offset(url, auth) > 0:
                    break
                await asyncio.sleep(DROP_WAIT_S)
        finally:
            arrived.set()
        try:
            await patch
        except aiohttp.ClientError as exc:
            sim_logger.info("media upload %s dropped midway: %s", url, exc)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


class _LinkDropped(Exception):
    """Raised inside a request body: aiohttp aborts the connection."""
