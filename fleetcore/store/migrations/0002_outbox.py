from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('seq', fields.BigIntField(primary_key=True, unique=True, db_index=True)),
                ('room', fields.CharField(max_length=512)),
                ('epoch', fields.BigIntField()),
                ('received_ms', fields.BigIntField()),
                ('data', fields.TextField(unique=False)),
            ],
            options={'table': 'outbox', 'app': 'fleethub', 'pk_attr': 'seq'},
            bases=['Model'],
        ),
    ]
