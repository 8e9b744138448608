from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('fleethub', '0005_commands')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('unix_millis_time', fields.BigIntField(db_index=True)),
                ('username', fields.CharField(db_index=True, max_length=256)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('target', fields.CharField(max_length=512)),
                ('detail', fields.TextField(unique=False)),
                ('status', fields.IntField()),
            ],
            options={'table': 'audit_entry', 'app': 'fleethub', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Role',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
            ],
            options={'table': 'auth_role', 'app': 'fleethub', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SecurityGroup',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
            ],
            options={'table': 'auth_security_group', 'app': 'fleethub', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RolePermission',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('role', fields.ForeignKeyField('fleethub.Role', source_field='role_id', db_constraint=True, to_field='name', related_name='permissions', on_delete=OnDelete.CASCADE)),
                ('permission', fields.CharField(max_length=32)),
                ('group', fields.ForeignKeyField('fleethub.SecurityGroup', source_field='group_id', db_constraint=True, to_field='name', related_name='permissions', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'auth_role_permission', 'app': 'fleethub', 'unique_together': (('role', 'permission', 'group'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SecurityGroupMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('group', fields.ForeignKeyField('fleethub.SecurityGroup', source_field='group_id', db_constraint=True, to_field='name', related_name='members', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('fleet', fields.CharField(default='', max_length=256)),
                ('name', fields.CharField(max_length=256)),
            ],
            options={'table': 'auth_security_group_member', 'app': 'fleethub', 'unique_together': (('group', 'kind', 'fleet', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('username', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=256)),
                ('password_hash', fields.CharField(null=True, max_length=512)),
                ('is_admin', fields.BooleanField(default=False)),
                ('created_ms', fields.BigIntField()),
            ],
            options={'table': 'auth_user', 'app': 'fleethub', 'pk_attr': 'username'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserRole',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('fleethub.User', source_field='user_id', db_constraint=True, to_field='username', related_name='user_roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.ForeignKeyField('fleethub.Role', source_field='role_id', db_constraint=True, to_field='name', related_name='user_roles', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'auth_user_role', 'app': 'fleethub', 'unique_together': (('user', 'role'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
