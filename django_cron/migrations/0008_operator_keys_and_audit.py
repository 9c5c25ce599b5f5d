# Who may change what: operator keys (stored as digests), an audit trail of
# operator actions, who paused a job and why, what started each run, and who
# made a schedule in the database.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_cron', '0007_database_schedules'),
    ]

    operations = [
        migrations.CreateModel(
            name='OperatorKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                ('digest', models.CharField(editable=False, max_length=64, unique=True, verbose_name='SHA-256 of the key')),
                ('scopes', models.CharField(max_length=100, verbose_name='scopes')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                ('created_by', models.CharField(blank=True, max_length=200, verbose_name='created by')),
                ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used')),
                ('revoked_at', models.DateTimeField(blank=True, null=True, verbose_name='revoked')),
            ],
            options={
                'verbose_name': 'operator key',
                'verbose_name_plural': 'operator keys',
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='jobrun',
            name='started_by',
            field=models.CharField(blank=True, max_length=200, verbose_name='started by'),
        ),
        migrations.AddField(
            model_name='jobschedule',
            name='author',
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name='made by'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='pause_reason',
            field=models.TextField(blank=True, verbose_name='reason for the pause'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='paused_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='paused at'),
        ),
        migrations.AddField(
            model_name='jobstate',
            name='paused_by',
            field=models.CharField(blank=True, max_length=200, verbose_name='paused by'),
        ),
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='when')),
                ('actor', models.CharField(max_length=200, verbose_name='who')),
                ('via', models.CharField(choices=[('api', 'API'), ('admin', 'admin'), ('command line', 'command line')], max_length=16, verbose_name='via')),
                ('action', models.CharField(max_length=32, verbose_name='action')),
                ('job', models.CharField(blank=True, max_length=200, verbose_name='job')),
                ('arguments', models.JSONField(blank=True, default=dict, verbose_name='arguments')),
                ('before', models.JSONField(blank=True, null=True, verbose_name='before')),
                ('after', models.JSONField(blank=True, null=True, verbose_name='after')),
                ('note', models.TextField(blank=True, verbose_name='note')),
                ('remote_addr', models.GenericIPAddressField(blank=True, null=True, verbose_name='from')),
            ],
            options={
                'verbose_name': 'audit entry',
                'verbose_name_plural': 'audit trail',
                'ordering': ['-at', '-id'],
                'required_db_features': {'supports_json_field'},
                'indexes': [models.Index(fields=['job', '-at'], name='django_cron_audit_job_idx'), models.Index(fields=['at'], name='django_cron_audit_at_idx')],
            },
        ),
    ]
