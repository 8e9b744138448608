from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0003_hub_lease')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AlertRequest',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                ('unix_millis_alert_time', fields.BigIntField(db_index=True)),
                ('task_id', fields.CharField(null=True, db_index=True, max_length=256)),
                ('response_expected', fields.BooleanField()),
                ('condition', fields.CharField(null=True, db_index=True, max_length=512)),
                ('data', fields.TextField(unique=False)),
                ('seq', fields.BigIntField(null=True, db_index=True)),
            ],
            options={'table': 'alert_request', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertResolution',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                ('unix_millis_time', fields.BigIntField()),
                ('seq', fields.BigIntField(db_index=True)),
            ],
            options={'table': 'alert_resolution', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertResponse',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                ('unix_millis_response_time', fields.BigIntField()),
                ('response', fields.CharField(max_length=256)),
                ('responder', fields.CharField(max_length=256)),
                ('data', fields.TextField(unique=False)),
                ('seq', fields.BigIntField(null=True, db_index=True)),
            ],
            options={'table': 'alert_response', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DerivedEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('seq', fields.BigIntField(db_index=True)),
                ('kind', fields.CharField(db_index=True, max_length=64)),
                ('severity', fields.CharField(max_length=16)),
                ('fleet', fields.CharField(null=True, db_index=True, max_length=256)),
                ('robot', fields.CharField(null=True, db_index=True, max_length=256)),
                ('task_id', fields.CharField(null=True, db_index=True, max_length=256)),
                ('unix_millis_time', fields.BigIntField(db_index=True)),
                ('data', fields.TextField(unique=False)),
            ],
            options={'table': 'derived_event', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HubCommand',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=512)),
                ('kind', fields.CharField(max_length=64)),
                ('task_id', fields.CharField(null=True, db_index=True, max_length=256)),
                ('unix_millis_time', fields.BigIntField()),
                ('data', fields.TextField(unique=False)),
                ('executed', fields.BooleanField(default=False)),
                ('seq', fields.BigIntField()),
            ],
            options={'table': 'hub_command', 'app': 'fleethub', 'pk_attr': 'key'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RobotLinkState',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('fleet', fields.CharField(max_length=256)),
                ('robot', fields.CharField(max_length=256)),
                ('state', fields.CharField(max_length=16)),
                ('since_ms', fields.BigIntField()),
            ],
            options={'table': 'robot_link_state', 'app': 'fleethub', 'unique_together': (('fleet', 'robot'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RobotPositionSample',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('fleet', fields.CharField(max_length=256)),
                ('robot', fields.CharField(max_length=256)),
                ('unix_millis_time', fields.BigIntField(db_index=True)),
                ('map', fields.CharField(max_length=256)),
                ('x', fields.FloatField()),
                ('y', fields.FloatField()),
                ('yaw', fields.FloatField()),
                ('status', fields.CharField(null=True, max_length=32)),
                ('battery', fields.FloatField(null=True)),
            ],
            options={'table': 'robot_position_sample', 'app': 'fleethub', 'indexes': [Index(fields=['fleet', 'robot', 'unix_millis_time'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
