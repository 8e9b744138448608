"""tortoise-orm models.

Models are documented in comments, not docstrings: tortoise turns a model's
docstring into a table comment, which its SQLite migrations cannot write.

The hub is the only writer of RMF-derived rows. Every row written because of
a publication carries that publication's seq: whatever a client was told
is already readable over REST, and a REST snapshot can say which seq it
reflects.
"""

from __future__ import annotations

from typing import Any

import orjson
from tortoise import fields
from tortoise.models import Model

from fleetcore.contract.limits import (
    COMMAND_KEY_BYTES,
    CONDITION_BYTES,
    CONTENT_TYPE_BYTES,
    LABEL_NAME_BYTES,
    LOG_SCOPE_BYTES,
    NAME_BYTES,
    TEXT_BYTES,
)
from fleetcore.contract.rooms import MAX_ROOM_LENGTH


# Counters that must survive restarts: seq (last published) and epoch.
class HubMeta(Model):
    key = fields.CharField(max_length=64, primary_key=True)
    value = fields.BigIntField()

    class Meta:
        table = "hub_meta"


# The latest publication of every state room: the sticky store the hub restores from.
# ``retired``: the room left the live bus (hub.retirement); readers find its value here.
# The hub restores only rooms not retired, through the (retired, seq) index.
class RoomState(Model):
    room = fields.CharField(max_length=MAX_ROOM_LENGTH, primary_key=True)
    seq = fields.BigIntField()
    epoch = fields.BigIntField()
    received_ms = fields.BigIntField()
    data = fields.TextField()
    retired = fields.BooleanField(default=False)

    class Meta:
        table = "room_state"
        indexes = (("retired", "seq"),)


# The latest state of each task, with the columns REST filters on.
# Each column GET /tasks sorts by is indexed together with the id that breaks
# its ties: a page's ids (and the entries an offset skips) come from the index
# alone, without a table row each (rest_api.routes.tasks).
class TaskState(Model):
    id = fields.CharField(max_length=NAME_BYTES, primary_key=True)
    category = fields.CharField(max_length=NAME_BYTES, null=True)
    assigned_group = fields.CharField(max_length=NAME_BYTES, null=True)
    assigned_to = fields.CharField(max_length=NAME_BYTES, null=True)
    status = fields.CharField(max_length=32, null=True)
    requester = fields.CharField(max_length=TEXT_BYTES, null=True)
    unix_millis_start_time = fields.BigIntField(null=True)
    unix_millis_finish_time = fields.BigIntField(null=True)
    unix_millis_request_time = fields.BigIntField(null=True)
    data = fields.TextField()
    seq = fields.BigIntField()

    class Meta:
        table = "task_state"
        # A hub's restore reads the latest finished tasks, of a year's worth, by seq. The
        # (requester, category, request time) index serves the dashboard's "my tasks of a
        # category, newest first": its first page is an ordered index scan that stops at
        # the limit, where the single-column indexes intersect every task of the category.
        indexes = (
            ("seq",),
            ("requester", "category", "unix_millis_request_time", "id"),
            ("category", "id"),
            ("assigned_group", "id"),
            ("assigned_to", "id"),
            ("status", "id"),
            ("requester", "id"),
            ("unix_millis_start_time", "id"),
            ("unix_millis_finish_time", "id"),
            ("unix_millis_request_time", "id"),
        )


# Where an offset lands in the unfiltered task list, without walking to it (PostgreSQL;
# rest_api.task_positions): each hour of a time column and each run of about 1,000 task
# ids holds how many tasks it has. Triggers of migration 0015 keep both in the writing
# transaction, so a reader's snapshot sees counts and rows alike; SQLite keeps them empty.
class TaskOrderHour(Model):
    id = fields.BigIntField(primary_key=True)
    sort_column = fields.CharField(max_length=32)
    hour = fields.BigIntField()
    tasks = fields.BigIntField()

    class Meta:
        table = "task_order_hour"
        unique_together = (("sort_column", "hour"),)


class TaskIdMark(Model):
    id_from = fields.CharField(max_length=NAME_BYTES, primary_key=True)
    tasks = fields.BigIntField()

    class Meta:
        table = "task_id_mark"


# One booking label of a task, split at ``=`` as rmf-web does (dashboard → value "").
# The label filter of GET /tasks reads the tasks of a name and value from one index, in
# task id order or newest first: the task's request time is copied here (the hub writes
# it with the task's row), so a page of a label's tasks is an ordered index range that
# stops at the page's end rather than a sort of every task carrying the label.
class TaskLabel(Model):
    id = fields.BigIntField(primary_key=True)
    task_id = fields.CharField(max_length=NAME_BYTES, db_index=True)
    label_name = fields.CharField(max_length=LABEL_NAME_BYTES, db_index=True)
    label_value = fields.CharField(max_length=TEXT_BYTES)
    unix_millis_request_time = fields.BigIntField(null=True)

    class Meta:
        table = "task_label"
        unique_together = (("task_id", "label_name"),)
        indexes = (
            ("label_name", "label_value", "task_id"),
            ("label_name", "label_value", "unix_millis_request_time", "task_id"),
        )


# Every distinct task state update, in order; retention is enforced by the hub.
class TaskStateHistory(Model):
    id = fields.BigIntField(primary_key=True)
    task_id = fields.CharField(max_length=NAME_BYTES, db_index=True)
    status = fields.CharField(max_length=32, null=True)
    seq = fields.BigIntField(db_index=True)
    received_ms = fields.BigIntField()
    data = fields.TextField()

    class Meta:
        table = "task_state_history"


# One entry of a task's log; phase/event are null for task-level entries.
class TaskLogEntry(Model):
    id = fields.BigIntField(primary_key=True)
    task_id = fields.CharField(max_length=NAME_BYTES, db_index=True)
    phase = fields.CharField(max_length=LOG_SCOPE_BYTES, null=True)
    event = fields.CharField(max_length=LOG_SCOPE_BYTES, null=True)
    log_seq = fields.BigIntField()
    tier = fields.CharField(max_length=16)
    unix_millis_time = fields.BigIntField()
    text = fields.TextField()
    seq = fields.BigIntField(db_index=True)

    class Meta:
        table = "task_log_entry"


# One entry of a fleet's log; robot is null for fleet-level entries.
class FleetLogEntry(Model):
    id = fields.BigIntField(primary_key=True)
    fleet = fields.CharField(max_length=NAME_BYTES, db_index=True)
    robot = fields.CharField(max_length=NAME_BYTES, null=True)
    log_seq = fields.BigIntField()
    tier = fields.CharField(max_length=16)
    unix_millis_time = fields.BigIntField()
    text = fields.TextField()
    seq = fields.BigIntField(db_index=True)

    class Meta:
        table = "fleet_log_entry"


# Building-map image bytes, by content hash; the map room carries only their URL.
class MapImage(Model):
    sha256 = fields.CharField(max_length=64, primary_key=True)
    content_type = fields.CharField(max_length=CONTENT_TYPE_BYTES)
    data = fields.BinaryField()

    class Meta:
        table = "map_image"


# Publications committed but maybe not yet on the bus: written in the same
# transaction as their rows, deleted once published. A hub that died between
# commit and publish republishes these on start, so clients see no gap.
class Outbox(Model):
    seq = fields.BigIntField(primary_key=True)
    room = fields.CharField(max_length=MAX_ROOM_LENGTH)
    epoch = fields.BigIntField()
    received_ms = fields.BigIntField()
    data = fields.TextField()

    class Meta:
        table = "outbox"


# The hub's leadership lease: one row. The leader renews expires_ms; a
# standby takes the row once it has expired. Leadership terms are the epoch
# in hub_meta, which every write batch checks (fencing).
class HubLease(Model):
    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=256)
    expires_ms = fields.BigIntField()

    class Meta:
        table = "hub_lease"


# A derived event (hub.derive): GET /events pages through these by seq.
class DerivedEvent(Model):
    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(db_index=True)
    kind = fields.CharField(max_length=64, db_index=True)
    severity = fields.CharField(max_length=16)
    fleet = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    robot = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    task_id = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    unix_millis_time = fields.BigIntField(db_index=True)
    data = fields.TextField()

    class Meta:
        table = "derived_event"
        # A robot's events, newest first from a keyset: one index range.
        indexes = (("fleet", "robot", "seq"),)


# An alert request in rmf-web's model. Derived alerts carry their condition
# key; alerts posted over REST have none and a null seq until the hub has
# published them (rest_api writes, the hub alone publishes).
class AlertRequest(Model):
    id = fields.CharField(max_length=NAME_BYTES, primary_key=True)
    unix_millis_alert_time = fields.BigIntField(db_index=True)
    task_id = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    response_expected = fields.BooleanField()
    condition = fields.CharField(max_length=CONDITION_BYTES, null=True, db_index=True)
    data = fields.TextField()
    seq = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "alert_request"


# An operator's response to an alert (one per alert), written by rest_api as
# operator data; seq stays null until the hub has published it.
class AlertResponse(Model):
    id = fields.CharField(max_length=NAME_BYTES, primary_key=True)
    unix_millis_response_time = fields.BigIntField()
    response = fields.CharField(max_length=NAME_BYTES)
    responder = fields.CharField(max_length=NAME_BYTES)
    data = fields.TextField()
    seq = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "alert_response"


# The hub resolving a derived alert because its condition cleared; kept
# apart from operator responses so neither can overwrite the other.
class AlertResolution(Model):
    id = fields.CharField(max_length=NAME_BYTES, primary_key=True)
    unix_millis_time = fields.BigIntField()
    seq = fields.BigIntField(db_index=True)

    class Meta:
        table = "alert_resolution"


# A command the hub decided to send (e.g. a reassignment), recorded under its
# idempotency key before anything acts on it, so it is issued at most once.
class HubCommand(Model):
    key = fields.CharField(max_length=512, primary_key=True)
    kind = fields.CharField(max_length=64)
    task_id = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    unix_millis_time = fields.BigIntField()
    data = fields.TextField()
    executed = fields.BooleanField(default=False)
    seq = fields.BigIntField()

    class Meta:
        table = "hub_command"


# Each robot's last derived connectivity, restored by the hub on start.
class RobotLinkState(Model):
    id = fields.BigIntField(primary_key=True)
    fleet = fields.CharField(max_length=NAME_BYTES)
    robot = fields.CharField(max_length=NAME_BYTES)
    state = fields.CharField(max_length=16)
    since_ms = fields.BigIntField()

    class Meta:
        table = "robot_link_state"
        unique_together = (("fleet", "robot"),)


# A downsampled point of a robot's history (hub.derive.positions).
class RobotPositionSample(Model):
    id = fields.BigIntField(primary_key=True)
    fleet = fields.CharField(max_length=NAME_BYTES)
    robot = fields.CharField(max_length=NAME_BYTES)
    unix_millis_time = fields.BigIntField(db_index=True)
    map = fields.CharField(max_length=NAME_BYTES)
    x = fields.FloatField()
    y = fields.FloatField()
    yaw = fields.FloatField()
    status = fields.CharField(max_length=32, null=True)
    battery = fields.FloatField(null=True)

    class Meta:
        table = "robot_position_sample"
        indexes = (("fleet", "robot", "unix_millis_time"),)


# The last numbered frame the hub committed of each acknowledged site session
# (fleetcore.contract.site_link): written in the transaction of that frame's
# rows, so a hub that takes over drops a frame re-sent after a failover
# instead of storing it twice.
class SiteSession(Model):
    session = fields.CharField(max_length=64, primary_key=True)
    frame = fields.BigIntField()
    updated_ms = fields.BigIntField(db_index=True)

    class Meta:
        table = "site_session"


# A client's command to RMF by its idempotency key (hub.commands). The hub
# inserts it in the transaction that checks its epoch, before acting, so a
# retried or redelivered key finds it and acts no more. ``request_id`` is what
# RMF's answer carries; ``status`` is pending until then, done or failed after.
# ``epoch`` is the leadership term that sent it to RMF.
class CommandRecord(Model):
    key = fields.CharField(max_length=COMMAND_KEY_BYTES, primary_key=True)
    kind = fields.CharField(max_length=64)
    body = fields.TextField()
    requester = fields.CharField(max_length=256)
    status = fields.CharField(max_length=16, db_index=True)
    request_id = fields.CharField(max_length=64, unique=True)
    response = fields.TextField(null=True)
    epoch = fields.BigIntField()
    created_ms = fields.BigIntField()
    updated_ms = fields.BigIntField()

    class Meta:
        table = "command_record"

    def outcome(self) -> dict[str, Any]:
        # What GET /commands/{key} and the room of the same path say of it.
        return {
            "command": self.key,
            "kind": self.kind,
            "status": self.status,
            "request_id": self.request_id,
            "requester": self.requester,
            "response": None if self.response is None else orjson.loads(self.response),
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
        }


# A user of the user store: embedded users have a password hash (argon2); a
# user first seen in an OIDC token is added without one, with no roles.
class User(Model):
    username = fields.CharField(max_length=256, primary_key=True)
    password_hash = fields.CharField(max_length=512, null=True)
    is_admin = fields.BooleanField(default=False)
    created_ms = fields.BigIntField()

    class Meta:
        table = "auth_user"


# A role: a named set of (permission, security group) pairs given to users.
class Role(Model):
    name = fields.CharField(max_length=256, primary_key=True)

    class Meta:
        table = "auth_role"


class UserRole(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "fleethub.User", related_name="user_roles", on_delete=fields.CASCADE
    )
    role: fields.ForeignKeyRelation[Role] = fields.ForeignKeyField(
        "fleethub.Role", related_name="user_roles", on_delete=fields.CASCADE
    )

    class Meta:
        table = "auth_user_role"
        unique_together = (("user", "role"),)


# A security group names what its grants apply to: whole fleets, single
# robots (fleet/robot), doors and lifts. rmf-web calls it an authz group.
class SecurityGroup(Model):
    name = fields.CharField(max_length=256, primary_key=True)

    class Meta:
        table = "auth_security_group"


# One thing a security group names: kind is fleet, robot, door or lift;
# fleet is the robot's fleet for a robot and empty otherwise.
class SecurityGroupMember(Model):
    id = fields.BigIntField(primary_key=True)
    group: fields.ForeignKeyRelation[SecurityGroup] = fields.ForeignKeyField(
        "fleethub.SecurityGroup", related_name="members", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)
    fleet = fields.CharField(max_length=256, default="")
    name = fields.CharField(max_length=256)

    class Meta:
        table = "auth_security_group_member"
        unique_together = (("group", "kind", "fleet", "name"),)


# A permission a role carries on one security group.
class RolePermission(Model):
    id = fields.BigIntField(primary_key=True)
    role: fields.ForeignKeyRelation[Role] = fields.ForeignKeyField(
        "fleethub.Role", related_name="permissions", on_delete=fields.CASCADE
    )
    permission = fields.CharField(max_length=32)
    group: fields.ForeignKeyRelation[SecurityGroup] = fields.ForeignKeyField(
        "fleethub.SecurityGroup", related_name="permissions", on_delete=fields.CASCADE
    )

    class Meta:
        table = "auth_role_permission"
        unique_together = (("role", "permission", "group"),)


# Who did what, when, and how it ended: every command and every admin change.
class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    unix_millis_time = fields.BigIntField(db_index=True)
    username = fields.CharField(max_length=256, db_index=True)
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=512)
    detail = fields.TextField()
    status = fields.IntField()

    class Meta:
        table = "audit_entry"


# The request a task was created from (``GET /tasks/{id}/request``), stored by
# the hub in the transaction that completes the dispatch command.
class TaskRequest(Model):
    task_id = fields.CharField(max_length=NAME_BYTES, primary_key=True)
    request = fields.TextField()
    command_key = fields.CharField(max_length=COMMAND_KEY_BYTES)

    class Meta:
        table = "task_request"


# A task dispatched on a schedule (rmf-web's scheduled task). ``schedules`` is a
# JSON list of {period, every, at, start_from, until}; ``except_dates`` a JSON
# list of "YYYY-MM-DD" days it does not run. The hub fires each occurrence as a
# dispatch command keyed by the occurrence, so it is dispatched once at most.
class ScheduledTask(Model):
    id = fields.IntField(primary_key=True)
    task_request = fields.TextField()
    schedules = fields.TextField()
    except_dates = fields.TextField()
    created_by = fields.CharField(max_length=256)
    created_ms = fields.BigIntField()
    last_ran_ms = fields.BigIntField(null=True)
    start_from_ms = fields.BigIntField(null=True)
    until_ms = fields.BigIntField(null=True)

    class Meta:
        table = "scheduled_task"


# A user's saved task form (rmf-web's favorite task); operator data rest_api writes.
class TaskFavorite(Model):
    id = fields.CharField(max_length=256, primary_key=True)
    name = fields.CharField(max_length=256)
    unix_millis_earliest_start_time = fields.BigIntField()
    priority = fields.TextField(null=True)
    category = fields.CharField(max_length=256)
    description = fields.TextField(null=True)
    user = fields.CharField(max_length=256, db_index=True)
    task_definition_id = fields.CharField(max_length=256, default="")

    class Meta:
        table = "task_favorite"


# rmf-web's RIO: a resource an integration keeps (id, type, any JSON data). Written by the hub
# (a PUT /rios is a command it performs), published on /rios with the row's seq.
class Rio(Model):
    id = fields.CharField(max_length=256, primary_key=True)
    type = fields.CharField(max_length=256, db_index=True)
    data = fields.TextField()
    seq = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "rio"


# A photo or clip from the field, attached to one alert, robot, task or derived
# event (``attached_to``/``attached_id``; a robot's id is ``fleet/robot``). The
# bytes live in the media store under ``sha256`` (written once, shared by rows of
# the same content); ``fleet``/``robot`` are what the attachment concerned when
# the file arrived, and decide who sees it. rest_api writes the row once the
# whole file is stored; ``seq`` stays null until the hub has published it.
class Media(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    sha256 = fields.CharField(max_length=64, db_index=True)
    size = fields.BigIntField()
    content_type = fields.CharField(max_length=CONTENT_TYPE_BYTES)
    kind = fields.CharField(max_length=16, db_index=True)
    attached_to = fields.CharField(max_length=16)
    attached_id = fields.CharField(max_length=2 * NAME_BYTES + 1, db_index=True)
    fleet = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    robot = fields.CharField(max_length=NAME_BYTES, null=True, db_index=True)
    unix_millis_capture_time = fields.BigIntField(db_index=True)
    unix_millis_upload_time = fields.BigIntField(db_index=True)
    uploaded_by = fields.CharField(max_length=256)
    seq = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "media"


# A device's credential for uploading media: one robot (``robot`` set) or a
# site's fleet (``robot`` null). Only the SHA-256 of the token is kept; an
# admin issues and revokes it (``revoked_ms``).
class DeviceToken(Model):
    id = fields.CharField(max_length=64, primary_key=True)
    token_sha256 = fields.CharField(max_length=64, unique=True)
    fleet = fields.CharField(max_length=NAME_BYTES)
    robot = fields.CharField(max_length=NAME_BYTES, null=True)
    created_by = fields.CharField(max_length=256)
    created_ms = fields.BigIntField()
    revoked_ms = fields.BigIntField(null=True)

    class Meta:
        table = "device_token"
