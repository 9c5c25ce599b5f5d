from fnmatch import fnmatchcase

from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .jobs import NAME_LIMIT


def first_line(text: str, limit: int = 200) -> str:
    """The first non-blank line of ``text``, at most ``limit`` characters: a one-line summary."""
    stripped = text.strip()
    return stripped.splitlines()[0][:limit] if stripped else ""


# A job's last status when its last slot was missed and skipped (missed="skip"):
# no run was recorded, so it is a last status and never a run's status.
MISSED = "missed"


class JobState(models.Model):
    """
    What the runner knows of one job: when it is due and who runs it now.

    ``next_run_at`` doubles as the slot token: a run is claimed by moving it
    forward with an UPDATE conditional on the value the claimer saw.
    """

    name = models.CharField(_("name"), max_length=NAME_LIMIT, unique=True)
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("Untick to pause the job without a deploy.")
    )
    schedule_key = models.CharField(_("schedule"), max_length=255, blank=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, db_index=True)
    lease_owner = models.CharField(_("lease owner"), max_length=100, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_status = models.CharField(_("last status"), max_length=16, blank=True)
    last_duration = models.FloatField(_("last duration (s)"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_message = models.TextField(_("last return value"), blank=True)
    last_queue_wait = models.DurationField(_("last queue wait"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    # Whether ADMINS were told about the current run of failures.
    alerted = models.BooleanField(_("alert sent"), default=False)
    # An alert not sent yet ("failing" or "recovered"): each pass tries it until it goes out.
    alert_pending = models.CharField(_("alert pending"), max_length=16, blank=True)
    # A failed slot waiting for its retry: which slot, and which attempt comes next.
    retry_slot = models.DateTimeField(_("retrying slot"), null=True, blank=True)
    retry_attempt = models.PositiveSmallIntegerField(_("retry attempt"), default=0)
    # The schedule kept in the database that this row runs by, if any: the
    # replacement of a code job's schedule, or a further schedule or one-off
    # run, which has a row of its own (db_schedules/).
    db_schedule = models.OneToOneField(
        "JobSchedule",
        verbose_name=_("schedule in the database"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="state",
    )
    # Who paused the job, when and why, kept until it is resumed.
    paused_by = models.CharField(_("paused by"), max_length=200, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    pause_reason = models.TextField(_("reason for the pause"), blank=True)
    # Slots that did not run, and why: they fell while the job was paused or
    # off, or while a run of the job was in flight (its overlap policy).
    skipped_paused = models.PositiveIntegerField(_("slots skipped while paused"), default=0)
    skipped_overlap = models.PositiveIntegerField(_("slots skipped while running"), default=0)
    skipped_blackout = models.PositiveIntegerField(_("slots skipped in blackouts"), default=0)
    # Successful runs ever: a job with ``times=N`` is finished at N.
    successes = models.PositiveIntegerField(_("successful runs"), default=0)
    # When the job's last run started and ended, whichever schedule it ran
    # for: a slot due before busy_until came due while a run was in flight,
    # and its overlap policy says what becomes of it (runtime/runs.py).
    busy_from = models.DateTimeField(_("last run started"), null=True, blank=True)
    busy_until = models.DateTimeField(_("last run ended"), null=True, blank=True)
    # The row whose slot the last run was for (a schedule in the database has
    # its own); None for a forced run. A slot of that row due before the run
    # started was missed, not kept waiting by another run.
    busy_with = models.BigIntegerField(_("last run for"), null=True, blank=True)
    # Set when the last run was a slot that waited for the run before it
    # (overlap="buffer_one"): that run's end. Slots due by then lost the one place.
    waited_until = models.DateTimeField(_("last run waited until"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # Each pass looks for pending alerts (alert_pending > ''), among thousands of jobs.
            models.Index(fields=["alert_pending"], name="django_cron_alert_idx"),
        ]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")

    def __str__(self):
        return self.name

    # What resuming a job writes: on, and no pause to tell of.
    RESUMED = {"enabled": True, "paused_by": "", "paused_at": None, "pause_reason": ""}

    @staticmethod
    def paused_fields(by: str, reason: str = "") -> dict:
        """Return what pausing a job writes: off, and who paused it, when and why."""
        now = timezone.now()
        return {"enabled": False, "paused_by": by, "paused_at": now, "pause_reason": reason}


class Backfill(models.Model):
    """
    A run of the job for each slot of its schedule in a past range, oldest
    first, each with its slot (runtime/backfills.py). A slot that had a
    successful run is not run again unless ``again``.
    """

    class Overlap(models.TextChoices):
        BUFFER_ALL = "buffer_all", _("each slot waits for the run in flight")
        SKIP = "skip", _("a slot whose turn comes while a run is in flight is skipped")

    job = models.CharField(_("job"), max_length=NAME_LIMIT)
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("to"), help_text=_("Not included."))
    overlap = models.CharField(
        _("overlap"), max_length=16, choices=Overlap.choices, default=Overlap.BUFFER_ALL
    )
    again = models.BooleanField(
        _("run again"), default=False, help_text=_("Run the slots that had a successful run too.")
    )
    requested_by = models.CharField(_("asked for by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("asked for"), default=timezone.now)
    # The slots in the range, and those not run: they had run, or were busy (overlap="skip").
    total = models.PositiveIntegerField(_("slots"), default=0)
    passed = models.PositiveIntegerField(_("slots not run"), default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("backfill")
        verbose_name_plural = _("backfills")

    def __str__(self):
        return f"{self.job}, {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"


class JobRun(models.Model):
    """One run of a job: its slot, timing, outcome and error."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        OK = "ok", _("ok")
        FAILED = "failed", _("failed")
        TIMED_OUT = "timeout", _("timed out")
        LOST = "lost", _("lost")

    job = models.ForeignKey(JobState, on_delete=models.CASCADE, related_name="runs")
    scheduled_for = models.DateTimeField(_("scheduled for"))
    started_at = models.DateTimeField(_("started"))
    # A run handed to a task worker: when it was queued, and how long it waited for a worker.
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    queue_wait = models.DurationField(_("queue wait"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration = models.FloatField(_("duration (s)"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    owner = models.CharField(_("owner"), max_length=100, blank=True)
    # While queued or running: when the run counts as lost unless a heartbeat extends this.
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    forced = models.BooleanField(_("forced"), default=False)
    # What started the run: "schedule", "retry", "once #12 by API key deploy",
    # "forced by alice".
    started_by = models.CharField(_("started by"), max_length=200, blank=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    error = models.TextField(_("error"), blank=True)
    traceback = models.TextField(_("traceback"), blank=True)
    output = models.TextField(_("output"), blank=True)
    # What the job returned (Tivix's do() message), as text.
    message = models.TextField(_("message"), blank=True)
    # The backfill this run was for, if any: its slot is in the backfill's range.
    backfill = models.ForeignKey(
        Backfill, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["job", "-started_at"], name="django_cron_run_job_idx"),
            models.Index(fields=["started_at"], name="django_cron_run_started_idx"),
            # The sweep's search for running runs whose lease expired.
            models.Index(fields=["status", "lease_until"], name="django_cron_run_lease_idx"),
        ]
        verbose_name = _("run")
        verbose_name_plural = _("runs")

    def __str__(self):
        return f"{self.job.name} at {self.scheduled_for:%Y-%m-%d %H:%M:%S}"

    @property
    def lateness(self) -> float | None:
        """
        Seconds from the run's slot to its start; None for a forced run, which
        has no slot. A run handed to a task worker counts from when it was taken.
        """
        if self.forced or self.started_at is None or self.scheduled_for is None:
            return None
        return (self.started_at - self.scheduled_for).total_seconds()

    @property
    def summary(self) -> str:
        """
        The run in one line, as the commands print it and the log says it:
        ``name: status in 0.004s: what it returned, or its error``.
        """
        line = f"{self.job.name}: {self.status}"
        if self.duration is not None:
            line += f" in {self.duration:.3f}s"
        detail = first_line(self.error or self.message)
        return f"{line}: {detail}" if detail else line


# Sent by JobSchedule.clean() with ``entry``; a receiver raises ValidationError,
# by field, for an entry that cannot run (db_schedules/rules.py).
checking_schedule = Signal()


class JobSchedule(models.Model):
    """
    A schedule kept in the database for a registered job or command: one that
    replaces the code's schedule, one more with its own arguments, or a
    one-off run. Saving one plans its next run; the runner picks it up on its
    next pass, with no restart (db_schedules/).
    """

    class Kind(models.TextChoices):
        REPLACE = "replace", _("replaces the schedule in code")
        EXTRA = "extra", _("runs as well, with its own arguments")
        ONCE = "once", _("runs once")

    job = models.CharField(
        _("job"),
        max_length=200,
        help_text=_("The name of a registered job or command (see manage.py cron list)."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.EXTRA)
    cron = models.CharField(
        _("cron expression"),
        max_length=200,
        blank=True,
        help_text=_("Five fields, or six with seconds first; L and 5#3 work. Or give an interval."),
    )
    every = models.CharField(
        _("interval"), max_length=50, blank=True, help_text=_('Seconds, or "90s", "5m", "1h30m".')
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("The zone a cron expression is read in; blank for the job's."),
    )
    start_date = models.DateTimeField(_("start date"), null=True, blank=True)
    end_date = models.DateTimeField(_("end date"), null=True, blank=True)
    at = models.DateTimeField(_("run at"), null=True, blank=True)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    times = models.PositiveIntegerField(
        _("times"),
        null=True,
        blank=True,
        help_text=_("Stop after this many successful runs; blank for no limit."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    # Who made it from the admin or the API; blank for the site's own code.
    author = models.CharField(_("made by"), max_length=200, blank=True, editable=False)

    # The job a replacement replaces, else NULL: unique, so a job has one
    # replacement. (A conditional unique constraint would do, but MySQL and
    # MariaDB have none, and Django's check warns there.)
    replaces = models.CharField(max_length=200, null=True, unique=True, editable=False)

    class Meta:
        ordering = ["job", "id"]
        # Every database django_cron supports has JSON. Said here, Django's
        # check of the JSON fields need not connect to ask (Django 6.1 checks
        # models against every database by default).
        required_db_features = {"supports_json_field"}
        verbose_name = _("schedule in the database")
        verbose_name_plural = _("schedules in the database")

    def clean(self):
        # The rules need the registry and the other entries: they live above
        # the models (db_schedules/rules.py) and answer this signal.
        checking_schedule.send(sender=type(self), entry=self)

    def save(self, *args, **kwargs):
        """
        Save the entry. Its next run is planned in the same transaction, by a
        receiver of post_save (db_schedules/planning.py).
        """
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        self.replaces = self.job if self.kind == self.Kind.REPLACE else None
        if self.kind == self.Kind.ONCE and self.at is None:
            self.at = timezone.now()  # a one-off run with no date runs now
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "replaces"}
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)

    def __str__(self):
        if self.kind == self.Kind.ONCE:
            return f"{self.job}, once (#{self.pk})"
        if self.kind == self.Kind.REPLACE:
            return f"{self.job} (replaced schedule)"
        return f"{self.job} (schedule #{self.pk})"


class Blackout(models.Model):
    """
    A window of time in which no job runs, or none whose name matches
    ``jobs``: its slots are skipped and counted, as a pause's are
    (runtime/blackouts.py).
    """

    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"), db_index=True)
    jobs = models.CharField(
        _("jobs"),
        max_length=200,
        blank=True,
        help_text=_("A pattern of job names, such as reports.* (* and ?); blank for every job."),
    )
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.CharField(_("made by"), max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(_("made"), auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        verbose_name = _("blackout window")
        verbose_name_plural = _("blackout windows")

    def __str__(self):
        return (
            f"{self.jobs or 'all jobs'}, {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"
        )

    def clean(self):
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationError({"end": _("The end must come after the start.")})

    def applies_to(self, name: str) -> bool:
        """Tell whether the window is for the job ``name``."""
        return not self.jobs or fnmatchcase(name, self.jobs)

    def covers(self, name: str, *moments) -> bool:
        """Tell whether the window holds any of ``moments`` (as stored) for the job ``name``."""
        return self.applies_to(name) and any(self.start <= at < self.end for at in moments)

    @property
    def in_force(self) -> bool:
        """Tell whether the window holds the present moment."""
        return self.start <= timezone.now() < self.end


class Lock(models.Model):
    """A named lease held by one owner until it expires (the database lock backend)."""

    key = models.CharField(max_length=200, primary_key=True)
    token = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("lock")


class CronJobLog(models.Model):
    """
    One run of a Tivix-style job (a CronJobBase subclass), in the table and
    shape Tivix django-cron kept them, for the monitoring code sites wrote
    against it. A Tivix site's existing rows are kept as they were. Every run
    of every job, these included, is in JobRun.
    """

    # The columns, names and index names of Tivix's own table (an AutoField id
    # too): a Tivix database's table is adopted as it is.
    id = models.AutoField(primary_key=True, verbose_name="ID")
    code = models.CharField(max_length=64, db_index=True)
    start_time = models.DateTimeField(db_index=True)
    end_time = models.DateTimeField(db_index=True)
    is_success = models.BooleanField(default=False)
    message = models.TextField(default="", blank=True)
    # The time of day ("HH:MM" of run_at_times) a run was for; empty for interval runs.
    ran_at_time = models.TimeField(null=True, blank=True, db_index=True, editable=False)

    class Meta:
        ordering = ["-start_time", "-id"]

    def __str__(self):
        return f"{self.code} ({'Success' if self.is_success else 'Fail'})"


class CronJobLock(models.Model):
    """
    Tivix django-cron's lock table, kept so that code reading it still works.
    Nothing locks with it: each slot is claimed in JobState, under a lease that
    expires, so no flag here can stay stuck.
    """

    id = models.AutoField(primary_key=True, verbose_name="ID")
    job_name = models.CharField(max_length=200, unique=True)
    locked = models.BooleanField(default=False)


class OperatorKey(models.Model):
    """
    A key for the operator API, with the scopes it allows. Only a SHA-256
    digest of the key is stored: the key itself is shown once, when it is
    made (``manage.py cron key create``), and never kept (keys.py).
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    digest = models.CharField(_("SHA-256 of the key"), max_length=64, unique=True, editable=False)
    # Comma-separated, from keys.SCOPES: "read,run".
    scopes = models.CharField(_("scopes"), max_length=100)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.CharField(_("created by"), max_length=200, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("operator key")
        verbose_name_plural = _("operator keys")

    def __str__(self):
        return self.name

    @property
    def scope_list(self) -> list:
        return [scope for scope in self.scopes.split(",") if scope]


class AuditEntry(models.Model):
    """
    One operator action: who did what to which job, when and from where.
    Written in the transaction of the change it records, so a refused or
    failed change leaves none (audit.py).
    """

    class Via(models.TextChoices):
        API = "api", _("API")
        ADMIN = "admin", _("admin")
        COMMAND_LINE = "command line", _("command line")

    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.CharField(_("who"), max_length=200)
    via = models.CharField(_("via"), max_length=16, choices=Via.choices)
    action = models.CharField(_("action"), max_length=32)
    job = models.CharField(_("job"), max_length=200, blank=True)
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    remote_addr = models.GenericIPAddressField(_("from"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["job", "-at"], name="django_cron_audit_job_idx"),
            models.Index(fields=["at"], name="django_cron_audit_at_idx"),
        ]
        required_db_features = {"supports_json_field"}
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self):
        return f"{self.actor}: {self.action} {self.job}".rstrip()
