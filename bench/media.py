"""Media uploads and downloads: throughput and the API process's memory, vs a plain file copy.

Starts the REST API alone in a child process (SQLite and the in-process bus,
media under a temporary data directory), then:

- uploads ``--uploads`` files of ``--mb`` MB in parallel over tus, each in
  PATCHes of ``--chunk-mb``, streamed from disk; reports MB/s and the API
  process's peak RSS (VmHWM) before and after: the bodies are streamed to disk,
  so the peak must not grow with the bytes in flight;
- downloads each file back with HTTP Range requests of ``--chunk-mb``;
- copies the same bytes with ``shutil.copyfile`` (and reads them back), the
  baseline measured in the same run.

Reproduce: .venv/bin/python bench/media.py --uploads 20 --mb 50
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

TUS = {"Tus-Resumable": "1.0.0"}


def _serve(data_dir: str, port: Any) -> None:
    """The child: the REST API on a free loopback port (auth off: a benchmark, not a deployment)."""
    from aiohttp import web

    from fleetcore.bus.memory import InMemoryBus
    from fleetcore.settings import Settings
    from rest_api.app import create_app

    settings = Settings(
        auth_mode="off",
        data_dir=Path(data_dir),
        media_video_max_bytes=1 << 34,
        media_image_max_bytes=1 << 34,
    )

    async def main() -> None:
        runner = web.AppRunner(create_app(settings, InMemoryBus()))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.value = runner.addresses[0][1]
        await asyncio.Event().wait()

    asyncio.run(main())


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _video(path: Path, size: int) -> None:
    """An MP4-looking file (its ``ftyp`` box, then noise) of ``size`` bytes."""
    with path.open("wb") as file:
        file.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        left = size - 24
        while left > 0:
            block = os.urandom(min(left, 8 << 20))
            file.write(block)
            left -= len(block)


async def _upload(
    session: aiohttp.ClientSession, base: str, path: Path, size: int, chunk: int
) -> str:
    headers = {
        **TUS,
        "Upload-Length": str(size),
        "Upload-Metadata": "attached_to cm9ib3Q=,attached_id Zi9y",
    }
    async with session.post(base + "/media/uploads", headers=headers) as response:
        assert response.status == 201, await response.text()
        url = base + response.headers["Location"]
    file = await asyncio.to_thread(path.open, "rb")
    with file:
        offset = 0
        while offset < size:
            body = await asyncio.to_thread(file.read, chunk)
            patch = {
                **TUS,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            }
            async with session.patch(url, data=body, headers=patch) as response:
                assert response.status == 204, await response.text()
            offset += len(body)
    return url.rsplit("/", 1)[1]


async def _download(
    session: aiohttp.ClientSession, base: str, media_id: str, size: int, chunk: int
) -> int:
    got = 0
    while got < size:
        headers = {"Range": f"bytes={got}-{min(size, got + chunk) - 1}"}
        async with session.get(f"{base}/media/{media_id}/content", headers=headers) as response:
            assert response.status == 206
            async for block in response.content.iter_chunked(256 << 10):
                got += len(block)
    return got


def _copy_baseline(files: list[Path], target: Path) -> tuple[float, float]:
    start = time.perf_counter()
    for n, path in enumerate(files):
        shutil.copyfile(path, target / f"{n}.copy")
    copied = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(len(files)):
        with (target / f"{n}.copy").open("rb") as file:
            while file.read(8 << 20):
                pass
    return copied, time.perf_counter() - start


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    spawn = multiprocessing.get_context("spawn")
    port = spawn.Value("i", 0)
    child = spawn.Process(target=_serve, args=(str(work / "data"), port))
    child.start()
    try:
        while port.value == 0:
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port.value}"
        size, chunk = args.mb << 20, args.chunk_mb << 20
        files = []
        for n in range(args.uploads):
            files.append(work / f"{n}.mp4")
            _video(files[-1], size)
        total_mb = args.uploads * args.mb
        idle = _peak_rss_mb(child.pid or 0)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            start = time.perf_counter()
            ids = await asyncio.gather(
                *(_upload(session, base, path, size, chunk) for path in files)
            )
            uploaded = time.perf_counter() - start
            peak = _peak_rss_mb(child.pid or 0)
            start = time.perf_counter()
            await asyncio.gather(*(_download(session, base, i, size, chunk) for i in ids))
            downloaded = time.perf_counter() - start
        copied, read = _copy_baseline(files, work)
        print(
            f"{args.uploads} parallel uploads of {args.mb} MB ({total_mb} MB), PATCHes of {args.chunk_mb} MB"
        )
        print(
            f"  upload over tus:     {total_mb / uploaded:8.1f} MB/s   (plain copy {total_mb / copied:8.1f} MB/s, ratio {copied / uploaded:.2f})"
        )
        print(
            f"  Range download:      {total_mb / downloaded:8.1f} MB/s   (plain read {total_mb / read:8.1f} MB/s, ratio {read / downloaded:.2f})"
        )
        print(
            f"  API peak RSS:        {idle:8.1f} MB idle -> {peak:8.1f} MB after the uploads (+{peak - idle:.1f} MB for {total_mb} MB sent)"
        )
    finally:
        child.kill()
        child.join()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--chunk-mb", type=int, default=8)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
