from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("fleethub", "0004_derived_history")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CommandRecord",
            fields=[
                (
                    "key",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128),
                ),
                ("kind", fields.CharField(max_length=64)),
                ("body", fields.TextField(unique=False)),
                ("requester", fields.CharField(max_length=256)),
                ("status", fields.CharField(db_index=True, max_length=16)),
                ("request_id", fields.CharField(unique=True, max_length=64)),
                ("response", fields.TextField(null=True, unique=False)),
                ("epoch", fields.BigIntField()),
                ("created_ms", fields.BigIntField()),
                ("updated_ms", fields.BigIntField()),
            ],
            options={"table": "command_record", "app": "fleethub", "pk_attr": "key"},
            bases=["Model"],
        ),
    ]
