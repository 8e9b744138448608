from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("fleethub", "0007_task_requests_schedules_favorites")]

    initial = False

    operations = [
        ops.AddField(
            model_name="TaskFavorite",
            name="task_definition_id",
            field=fields.CharField(max_length=256, default=""),
        ),
        ops.AddField(
            model_name="ScheduledTask",
            name="start_from_ms",
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name="ScheduledTask",
            name="until_ms",
            field=fields.BigIntField(null=True),
        ),
        ops.CreateModel(
            name="Rio",
            fields=[
                ("id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                ("type", fields.CharField(db_index=True, max_length=256)),
                ("data", fields.TextField(unique=False)),
                ("seq", fields.BigIntField(null=True, db_index=True)),
            ],
            options={"table": "rio", "app": "fleethub", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
