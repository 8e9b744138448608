from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0012_media')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['requester', 'category', 'unix_millis_request_time', 'id']),
        ),
    ]
