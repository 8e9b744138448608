from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0011_rest_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeviceToken',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('token_sha256', fields.CharField(unique=True, max_length=64)),
                ('fleet', fields.CharField(max_length=256)),
                ('robot', fields.CharField(null=True, max_length=256)),
                ('created_by', fields.CharField(max_length=256)),
                ('created_ms', fields.BigIntField()),
                ('revoked_ms', fields.BigIntField(null=True)),
            ],
            options={'table': 'device_token', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Media',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('sha256', fields.CharField(db_index=True, max_length=64)),
                ('size', fields.BigIntField()),
                ('content_type', fields.CharField(max_length=128)),
                ('kind', fields.CharField(db_index=True, max_length=16)),
                ('attached_to', fields.CharField(max_length=16)),
                ('attached_id', fields.CharField(db_index=True, max_length=513)),
                ('fleet', fields.CharField(null=True, db_index=True, max_length=256)),
                ('robot', fields.CharField(null=True, db_index=True, max_length=256)),
                ('unix_millis_capture_time', fields.BigIntField(db_index=True)),
                ('unix_millis_upload_time', fields.BigIntField(db_index=True)),
                ('uploaded_by', fields.CharField(max_length=256)),
                ('seq', fields.BigIntField(null=True, db_index=True)),
            ],
            options={'table': 'media', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
