# Tivix django-cron's run log and lock table, in its shape: created where
# missing, adopted where a Tivix site has them. The runs a Tivix site logged
# are copied into run history, and each job's latest run into its state.

from django.db import migrations, models

from django_cron.migration_operations import CreateMissingTables

BATCH = 2000


def import_tivix_history(apps, schema_editor):
    alias = schema_editor.connection.alias
    CronJobLog = apps.get_model("django_cron", "CronJobLog")
    JobState = apps.get_model("django_cron", "JobState")
    JobRun = apps.get_model("django_cron", "JobRun")
    logs = CronJobLog.objects.using(alias)
    codes = sorted(set(logs.values_list("code", flat=True)))
    if not codes:
        return
    states = {}
    for code in codes:
        states[code], _ = JobState.objects.using(alias).get_or_create(name=code)
    batch = []
    for log in logs.order_by("id").iterator(chunk_size=BATCH):
        batch.append(_run(JobRun, states[log.code], log))
        if len(batch) == BATCH:
            JobRun.objects.using(alias).bulk_create(batch)
            batch = []
    JobRun.objects.using(alias).bulk_create(batch)
    for code, state in states.items():
        latest = logs.filter(code=code).order_by("-start_time", "-id").first()
        failures = 0
        for success in logs.filter(code=code).order_by("-start_time", "-id").values_list(
            "is_success", flat=True
        )[:1000]:
            if success:
                break
            failures += 1
        run = _run(JobRun, state, latest)
        JobState.objects.using(alias).filter(pk=state.pk, last_run_at__isnull=True).update(
            last_run_at=run.started_at,
            last_status=run.status,
            last_duration=run.duration,
            last_error=run.error,
            last_message=run.message,
            consecutive_failures=failures,
        )


def _run(JobRun, state, log):
    """The JobRun for one CronJobLog row."""
    text = (log.message or "").strip()
    duration = max((log.end_time - log.start_time).total_seconds(), 0.0)
    failed = not log.is_success
    return JobRun(
        job=state,
        scheduled_for=log.start_time,
        started_at=log.start_time,
        finished_at=log.end_time,
        duration=duration,
        status="failed" if failed else "ok",
        owner="tivix",
        # Tivix kept the traceback in the message of a failed run.
        error=(text.splitlines()[-1][:2000] if failed and text else ""),
        traceback=text if failed else "",
        message="" if failed else text,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("django_cron", "0005_queue_hand_off"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CronJobLog",
                    fields=[
                        ("id", models.AutoField(primary_key=True, serialize=False, verbose_name="ID")),
                        ("code", models.CharField(db_index=True, max_length=64)),
                        ("start_time", models.DateTimeField(db_index=True)),
                        ("end_time", models.DateTimeField(db_index=True)),
                        ("is_success", models.BooleanField(default=False)),
                        ("message", models.TextField(blank=True, default="")),
                        (
                            "ran_at_time",
                            models.TimeField(blank=True, db_index=True, editable=False, null=True),
                        ),
                    ],
                    options={"ordering": ["-start_time", "-id"]},
                ),
                migrations.CreateModel(
                    name="CronJobLock",
                    fields=[
                        ("id", models.AutoField(primary_key=True, serialize=False, verbose_name="ID")),
                        ("job_name", models.CharField(max_length=200, unique=True)),
                        ("locked", models.BooleanField(default=False)),
                    ],
                ),
            ],
        ),
        CreateMissingTables("CronJobLog", "CronJobLock"),
        migrations.RunPython(import_tivix_history, migrations.RunPython.noop),
    ]
