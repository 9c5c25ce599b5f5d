# A run handed to a task worker records when it was queued and how long it
# waited for a worker; the job keeps its last run's wait.

from django.db import migrations, models


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
    ]
