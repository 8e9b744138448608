from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("fleethub", "0008_rmf_web_parity")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SiteSession",
            fields=[
                (
                    "session",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("frame", fields.BigIntField()),
                ("updated_ms", fields.BigIntField(db_index=True)),
            ],
            options={"table": "site_session", "app": "fleethub", "pk_attr": "session"},
            bases=["Model"],
        ),
    ]
