from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0009_site_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='RoomState',
            name='retired',
            field=fields.BooleanField(default=False),
        ),
        ops.AddIndex(
            model_name='RoomState',
            index=Index(fields=['retired', 'seq']),
        ),
    ]
