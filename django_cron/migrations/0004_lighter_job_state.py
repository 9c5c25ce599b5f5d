# The runner no longer writes the running run onto the job's row (one query
# less per run), and looks up pending alerts through an index.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_cron", "0003_last_return_value"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="jobstate",
            name="current_run",
        ),
        migrations.AddIndex(
            model_name="jobstate",
            index=models.Index(fields=["alert_pending"], name="django_cron_alert_idx"),
        ),
    ]
