# A run handed to a task worker records when it was queued and how long it
# waited for a worker; the job keeps its last run's wait. A queued run now
# holds a lease, which a worker must take it within: runs queued before this
# migration get one of the default LEASE, 300 s, and are lost if none does.

from datetime import timedelta

from django.db import migrations, models
from django.utils import timezone


def lease_queued_runs(apps, schema_editor):
    JobRun = apps.get_model("django_cron", "JobRun")
    JobRun.objects.using(schema_editor.connection.alias).filter(
        status="queued", lease_until__isnull=True
    ).update(lease_until=timezone.now() + timedelta(seconds=300))


class Migration(migrations.Migration):
    dependencies = [
        ("django_cron", "0004_lighter_job_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobrun",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="queued"),
        ),
        migrations.AddField(
            model_name="jobrun",
            name="queue_wait",
            field=models.DurationField(blank=True, null=True, verbose_name="queue wait"),
        ),
        migrations.AddField(
            model_name="jobstate",
            name="last_queue_wait",
            field=models.DurationField(blank=True, null=True, verbose_name="last queue wait"),
        ),
        migrations.RunPython(lease_queued_runs, migrations.RunPython.noop, elidable=True),
    ]
