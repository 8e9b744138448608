from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0013_task_list_indexes')]

    initial = False

    # The labels already stored take their task's request time; the hub writes it from now on.
    operations = [
        ops.AddField(
            model_name='TaskLabel',
            name='unix_millis_request_time',
            field=fields.BigIntField(null=True),
        ),
        ops.RunSQL(
            'UPDATE task_label SET unix_millis_request_time = ('
            'SELECT unix_millis_request_time FROM task_state'
            ' WHERE task_state.id = task_label.task_id)'
        ),
        ops.AddIndex(
            model_name='TaskLabel',
            index=Index(fields=['label_name', 'label_value', 'unix_millis_request_time', 'task_id']),
        ),
    ]
