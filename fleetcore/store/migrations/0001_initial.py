from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="FleetLogEntry",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("fleet", fields.CharField(db_index=True, max_length=256)),
                ("robot", fields.CharField(null=True, max_length=256)),
                ("log_seq", fields.BigIntField()),
                ("tier", fields.CharField(max_length=16)),
                ("unix_millis_time", fields.BigIntField()),
                ("text", fields.TextField(unique=False)),
                ("seq", fields.BigIntField(db_index=True)),
            ],
            options={"table": "fleet_log_entry", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="HubMeta",
            fields=[
                (
                    "key",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("value", fields.BigIntField()),
            ],
            options={"table": "hub_meta", "app": "fleethub", "pk_attr": "key"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MapImage",
            fields=[
                (
                    "sha256",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("content_type", fields.CharField(max_length=128)),
                ("data", fields.BinaryField()),
            ],
            options={"table": "map_image", "app": "fleethub", "pk_attr": "sha256"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RoomState",
            fields=[
                (
                    "room",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=512),
                ),
                ("seq", fields.BigIntField()),
                ("epoch", fields.BigIntField()),
                ("received_ms", fields.BigIntField()),
                ("data", fields.TextField(unique=False)),
            ],
            options={"table": "room_state", "app": "fleethub", "pk_attr": "room"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TaskLabel",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("task_id", fields.CharField(db_index=True, max_length=256)),
                ("label_name", fields.CharField(db_index=True, max_length=512)),
                ("label_value", fields.CharField(max_length=1024)),
            ],
            options={
                "table": "task_label",
                "app": "fleethub",
                "unique_together": (("task_id", "label_name"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TaskLogEntry",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("task_id", fields.CharField(db_index=True, max_length=256)),
                ("phase", fields.CharField(null=True, max_length=64)),
                ("event", fields.CharField(null=True, max_length=64)),
                ("log_seq", fields.BigIntField()),
                ("tier", fields.CharField(max_length=16)),
                ("unix_millis_time", fields.BigIntField()),
                ("text", fields.TextField(unique=False)),
                ("seq", fields.BigIntField(db_index=True)),
            ],
            options={"table": "task_log_entry", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TaskState",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256),
                ),
                ("category", fields.CharField(null=True, db_index=True, max_length=256)),
                ("assigned_group", fields.CharField(null=True, db_index=True, max_length=256)),
                ("assigned_to", fields.CharField(null=True, db_index=True, max_length=256)),
                ("status", fields.CharField(null=True, db_index=True, max_length=32)),
                ("requester", fields.CharField(null=True, db_index=True, max_length=1024)),
                ("unix_millis_start_time", fields.BigIntField(null=True, db_index=True)),
                ("unix_millis_finish_time", fields.BigIntField(null=True, db_index=True)),
                ("unix_millis_request_time", fields.BigIntField(null=True, db_index=True)),
                ("data", fields.TextField(unique=False)),
                ("seq", fields.BigIntField()),
            ],
            options={"table": "task_state", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TaskStateHistory",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("task_id", fields.CharField(db_index=True, max_length=256)),
                ("status", fields.CharField(null=True, max_length=32)),
                ("seq", fields.BigIntField(db_index=True)),
                ("received_ms", fields.BigIntField()),
                ("data", fields.TextField(unique=False)),
            ],
            options={"table": "task_state_history", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
