from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("fleethub", "0006_auth")]

    initial = False

    operations = [
        ops.CreateModel(
            name="TaskRequest",
            fields=[
                (
                    "task_id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256),
                ),
                ("request", fields.TextField(unique=False)),
                ("command_key", fields.CharField(max_length=128)),
            ],
            options={"table": "task_request", "app": "fleethub", "pk_attr": "task_id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ScheduledTask",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("task_request", fields.TextField(unique=False)),
                ("schedules", fields.TextField(unique=False)),
                ("except_dates", fields.TextField(unique=False)),
                ("created_by", fields.CharField(max_length=256)),
                ("created_ms", fields.BigIntField()),
                ("last_ran_ms", fields.BigIntField(null=True)),
            ],
            options={"table": "scheduled_task", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TaskFavorite",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256),
                ),
                ("name", fields.CharField(max_length=256)),
                ("unix_millis_earliest_start_time", fields.BigIntField()),
                ("priority", fields.TextField(null=True, unique=False)),
                ("category", fields.CharField(max_length=256)),
                ("description", fields.TextField(null=True, unique=False)),
                ("user", fields.CharField(db_index=True, max_length=256)),
            ],
            options={"table": "task_favorite", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
