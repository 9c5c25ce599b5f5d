# Schedules kept in the database: replacements of code schedules, further
# schedules with their own arguments, and one-off runs. A job state row
# points at the one it runs by.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_cron", "0006_tivix_run_log"),
    ]

    operations = [
        migrations.CreateModel(
            name="JobSchedule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "job",
                    models.CharField(
                        help_text="The name of a registered job or command (see manage.py cron list).",
                        max_length=200,
                        verbose_name="job",
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("replace", "replaces the schedule in code"),
                            ("extra", "runs as well, with its own arguments"),
                            ("once", "runs once"),
                        ],
                        default="extra",
                        max_length=8,
                        verbose_name="kind",
                    ),
                ),
                (
                    "cron",
                    models.CharField(
                        blank=True,
                        help_text="Five fields, or six with seconds first; L and 5#3 work. Or give an interval.",
                        max_length=200,
                        verbose_name="cron expression",
                    ),
                ),
                (
                    "every",
                    models.CharField(
                        blank=True,
                        help_text='Seconds, or "90s", "5m", "1h30m".',
                        max_length=50,
                        verbose_name="interval",
                    ),
                ),
                (
                    "timezone",
                    models.CharField(
                        blank=True,
                        help_text="The zone a cron expression is read in; blank for the job's.",
                        max_length=64,
                        verbose_name="time zone",
                    ),
                ),
                (
                    "start_date",
                    models.DateTimeField(blank=True, null=True, verbose_name="start date"),
                ),
                ("end_date", models.DateTimeField(blank=True, null=True, verbose_name="end date")),
                ("at", models.DateTimeField(blank=True, null=True, verbose_name="run at")),
                ("args", models.JSONField(blank=True, default=list, verbose_name="arguments")),
                (
                    "kwargs",
                    models.JSONField(blank=True, default=dict, verbose_name="keyword arguments"),
                ),
                ("enabled", models.BooleanField(default=True, verbose_name="enabled")),
                (
                    "description",
                    models.CharField(blank=True, max_length=200, verbose_name="description"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated")),
                (
                    "cancelled_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="cancelled"),
                ),
                (
                    "replaces",
                    models.CharField(editable=False, max_length=200, null=True, unique=True),
                ),
            ],
            options={
                "verbose_name": "schedule in the database",
                "verbose_name_plural": "schedules in the database",
                "ordering": ["job", "id"],
            },
        ),
        migrations.AddField(
            model_name="jobstate",
            name="db_schedule",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="state",
                to="django_cron.jobschedule",
                verbose_name="schedule in the database",
            ),
        ),
    ]
