"""Who uploads media, and what an upload is attached to.

Users upload with their bearer token and ``media_upload`` on the robot (or
fleet) concerned. Devices have no user: a robot presents a device token an
admin issued for it (``fhd_...``, scoped to one robot, or to a fleet for a
site's token), and the site token (``ingest_token``) uploads for every fleet
of the site. A device token is kept as its SHA-256 only, so the store leaks
none, and revoking one refuses it at once.

An upload is attached to an alert, a robot (``fleet/robot``), a task or a
derived event (by its seq); the robot it concerns is resolved when it is created and
stored with the media, which is what later decides who sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import orjson

from fleetcore.auth import Authenticator, Permission, Principal
from fleetcore.auth.visibility import (
    Concern,
    alert_concern,
    holds_on,
    may_read_concern,
    may_read_task,
    task_concern_of,
)
from fleetcore.errors import Unauthorized
from fleetcore.store import models as db
from rest_api.visibility import alert_visible

DEVICE_TOKEN_PREFIX = "fhd_"
"""Device tokens start with this, so they are told from JWTs without trying to verify them."""
ATTACHMENTS = ("alert", "robot", "task", "event")


@dataclass(frozen=True, slots=True)
class Uploader:
    """Who is uploading: a user (``principal``) or a device scoped to a fleet or one robot."""

    name: str
    principal: Principal | None = None
    fleet: str | None = None
    """A device's fleet; None with no principal: the site token, every fleet."""
    robot: str | None = None

    def may_upload_for(self, fleet: str | None, robot: str | None) -> bool:
        if self.principal is not None:
            return self.principal.is_admin or (
                fleet is not None
                and holds_on(
                    self.principal, Permission.media_upload, Concern(None, fleet, robot), None
                )
            )
        if self.fleet is None:
            return fleet is not None
        return fleet == self.fleet and (self.robot is None or robot == self.robot)


@dataclass(frozen=True, slots=True)
class Attachment:
    attached_to: str
    attached_id: str
    fleet: str | None
    robot: str | None


class AttachmentNotFound(Exception):
    """The alert, task or event named is not there, or not for this uploader to see."""


def new_device_token() -> tuple[str, str]:
    """A fresh device token and the SHA-256 the store keeps of it."""
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_sha256(token)


async def create_device_token(
    fleet: str, robot: str | None, created_by: str
) -> tuple[str, db.DeviceToken]:
    """A new device token for ``robot`` of ``fleet`` (None: the whole fleet), and its row."""
    token, digest = new_device_token()
    row = await db.DeviceToken.create(
        id=uuid.uuid4().hex,
        token_sha256=digest,
        fleet=fleet,
        robot=robot,
        created_by=created_by,
        created_ms=now_ms(),
    )
    return token, row


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def uploader_of(token: str | None, authenticator: Authenticator, site_token: str) -> Uploader:
    """The uploader a bearer token names; :class:`Unauthorized` when it names none."""
    if token is not None and token.startswith(DEVICE_TOKEN_PREFIX):
        row = await db.DeviceToken.get_or_none(token_sha256=token_sha256(token))
        if row is None or row.revoked_ms is not None:
            raise Unauthorized("invalid_token", "unknown or revoked device token")
        robot = f"/{row.robot}" if row.robot else ""
        return Uploader(f"device:{row.fleet}{robot}", None, row.fleet, row.robot)
    if token is not None and site_token and hmac.compare_digest(token, site_token):
        return Uploader("site")
    principal = await authenticator.principal(token)
    return Uploader(principal.username, principal)


async def attachment_of(uploader: Uploader, attached_to: str, attached_id: str) -> Attachment:
    """What the upload is attached to and which robot that concerns, as the uploader may see it.

    Raises :class:`AttachmentNotFound` for an unknown object or one the user
    may not read; an unknown kind is a :class:`ValueError`.
    """
    fleet: str | None
    robot: str | None
    if attached_to == "robot":
        fleet, _, robot = attached_id.partition("/")
        if not fleet or not robot:
            raise ValueError("a robot is attached as fleet/robot")
        return Attachment(attached_to, attached_id, fleet, robot)
    if attached_to == "alert":
        alert = await db.AlertRequest.get_or_none(id=attached_id)
        if alert is None:
            raise AttachmentNotFound(f"no alert {attached_id!r}")
        data = orjson.loads(alert.data)
        if uploader.principal is not None and not await alert_visible(uploader.principal, data):
            raise AttachmentNotFound(f"no alert {attached_id!r}")
        concern = alert_concern(data)
        fleet, robot = concern.fleet, concern.robot
        if fleet is None and concern.task_id is not None:
            task = await db.TaskState.get_or_none(id=concern.task_id)
            if task is not None:
                fleet, robot = task.assigned_group, task.assigned_to
    elif attached_to == "task":
        task = await db.TaskState.get_or_none(id=attached_id)
        if task is None:
            raise AttachmentNotFound(f"no task {attached_id!r}")
        fleet, robot = task.assigned_group, task.assigned_to
        if uploader.principal is not None and not may_read_task(
            uploader.principal, task_concern_of(fleet, robot, task.requester)
        ):
            raise AttachmentNotFound(f"no task {attached_id!r}")
    elif attached_to == "event":
        # An event is known to clients by its seq (GET /events, the /events room).
        event = (
            await db.DerivedEvent.filter(seq=int(attached_id)).first()
            if attached_id.isdigit() and len(attached_id) < 19
            else None
        )
        if event is None or (
            uploader.principal is not None
            and not may_read_concern(
                uploader.principal, Concern(event.task_id, event.fleet, event.robot), None
            )
        ):
            raise AttachmentNotFound(f"no event {attached_id!r}")
        fleet, robot = event.fleet, event.robot
    else:
        raise ValueError(f"attached_to must be one of {', '.join(ATTACHMENTS)}")
    return Attachment(attached_to, attached_id, fleet, robot)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


__all__ = [
    "ATTACHMENTS",
    "DEVICE_TOKEN_PREFIX",
    "Attachment",
    "AttachmentNotFound",
    "Uploader",
    "attachment_of",
    "create_device_token",
    "new_device_token",
    "now_ms",
    "token_sha256",
    "uploader_of",
]
