from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0010_room_retirement')]

    initial = False

    # SQLite alters a column by rebuilding its table, which loses the indexes of
    # Meta.indexes: the seq index of 0010 is dropped first and built again after.
    operations = [
        ops.RemoveIndex(model_name='TaskState', fields=['seq']),
        ops.AddIndex(
            model_name='TaskLabel',
            index=Index(fields=['label_name', 'label_value', 'task_id']),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='assigned_group',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='assigned_to',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='category',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='requester',
            field=fields.CharField(null=True, max_length=1024),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='status',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='unix_millis_finish_time',
            field=fields.BigIntField(null=True),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='unix_millis_request_time',
            field=fields.BigIntField(null=True),
        ),
        ops.AlterField(
            model_name='TaskState',
            name='unix_millis_start_time',
            field=fields.BigIntField(null=True),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['seq']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['category', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['assigned_group', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['assigned_to', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['status', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['requester', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['unix_millis_start_time', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['unix_millis_finish_time', 'id']),
        ),
        ops.AddIndex(
            model_name='TaskState',
            index=Index(fields=['unix_millis_request_time', 'id']),
        ),
        ops.AddIndex(
            model_name='DerivedEvent',
            index=Index(fields=['fleet', 'robot', 'seq']),
        ),
    ]
