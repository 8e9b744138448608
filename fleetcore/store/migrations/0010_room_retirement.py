from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("fleethub", "0009_site_sessions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="RoomState",
            name="retired",
            field=fields.BooleanField(default=False),
        ),
        ops.AddIndex(
            model_name="RoomState",
            index=Index(fields=["retired", "seq"]),
        ),
        ops.AddIndex(
            model_name="TaskState",
            index=Index(fields=["seq"]),
        ),
    ]
