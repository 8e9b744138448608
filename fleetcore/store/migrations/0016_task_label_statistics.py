from tortoise import migrations

from fleetcore.store.migration_ops import RunPostgresSQL

# A label's name and value go together (every "priority" label is "high"), which the
# planner, multiplying their frequencies, underestimated 45 times: with two labels it
# hashed every task of the first instead of checking the other label of the newest
# few. Its scans stay serial: a page stops after a few thousand index entries, and
# parallel workers each overshoot that on their own.
class Migration(migrations.Migration):
    dependencies = [('fleethub', '0015_task_order_marks')]

    initial = False

    operations = [
        RunPostgresSQL([
            'CREATE STATISTICS task_label_name_value (mcv, dependencies)'
            ' ON label_name, label_value FROM task_label',
            'ALTER TABLE task_label SET (parallel_workers = 0)',
            'ANALYZE task_label',
        ]),
    ]
