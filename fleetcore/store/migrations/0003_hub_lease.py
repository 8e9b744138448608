from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0002_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HubLease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('holder', fields.CharField(max_length=256)),
                ('expires_ms', fields.BigIntField()),
            ],
            options={'table': 'hub_lease', 'app': 'fleethub', 'pk_attr': 'name'},
            bases=['Model'],
        ),
    ]
