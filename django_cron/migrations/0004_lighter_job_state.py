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
        migrations.AlterField(
            model_name="jobstate",
            name="alert_pending",
            field=models.CharField(
                blank=True, db_index=True, max_length=16, verbose_name="alert pending"
            ),
        ),
    ]
