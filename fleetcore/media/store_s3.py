"""Media in any S3-compatible store, through aiobotocore (botocore on aiohttp, kept by aio-libs).

Objects are ``<prefix><key>`` in one bucket. A put is skipped when the key is
already there (content addressing makes that the same file); otherwise it
streams the staging file, in multipart parts of :data:`PART_BYTES` past that
size, so at most one part of an upload is in memory. A read asks the store for
exactly the byte range it streams. Credentials and region come from the usual
AWS variables (or an instance role); ``media_s3_endpoint_url`` points at a
store that is not AWS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from fleetcore.media.store import READ_CHUNK_BYTES

PART_BYTES = 8 << 20
"""One multipart part (S3's minimum is 5 MiB, except the last)."""


class S3MediaStore:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self._endpoint_url = endpoint_url
        self._stack = AsyncExitStack()
        self._client: Any = None

    async def _s3(self) -> Any:
        """The client, made on first use (so a process that never touches media opens none)."""
        if self._client is None:
            self._client = await self._stack.enter_async_context(
                get_session().create_client("s3", endpoint_url=self._endpoint_url)
            )
        return self._client

    async def put(self, key: str, source: Path, content_type: str) -> None:
        if not await self.exists(key):
            await self._upload(key, source, content_type)
        await asyncio.to_thread(source.unlink, missing_ok=True)

    async def _upload(self, key: str, source: Path, content_type: str) -> None:
        s3 = await self._s3()
        target = {"Bucket": self.bucket, "Key": self.prefix + key}
        file = await asyncio.to_thread(source.open, "rb")
        try:
            first = await asyncio.to_thread(file.read, PART_BYTES)
            if len(first) < PART_BYTES:
                await s3.put_object(**target, Body=first, ContentType=content_type)
                return
            upload = await s3.create_multipart_upload(**target, ContentType=content_type)
            try:
                parts: list[dict[str, Any]] = []
                part = first
                while part:
                    answer = await s3.upload_part(
                        **target, UploadId=upload["UploadId"], PartNumber=len(parts) + 1, Body=part
                    )
                    parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1})
                    part = await asyncio.to_thread(file.read, PART_BYTES)
                await s3.complete_multipart_upload(
                    **target, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
                )
            except BaseException:
                await s3.abort_multipart_upload(**target, UploadId=upload["UploadId"])
                raise
        finally:
            file.close()

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        s3 = await self._s3()
        await s3.put_object(
            Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type
        )

    async def exists(self, key: str) -> bool:
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def read(self, key: str, start: int, length: int) -> AsyncIterator[bytes]:
        s3 = await self._s3()
        answer = await s3.get_object(
            Bucket=self.bucket, Key=self.prefix + key, Range=f"bytes={start}-{start + length - 1}"
        )
        async with answer["Body"] as body:
            async for chunk in body.iter_chunks(READ_CHUNK_BYTES):
                yield chunk

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None


__all__ = ["PART_BYTES", "S3MediaStore"]
