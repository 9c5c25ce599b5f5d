"""
The admin: jobs with their schedule and health, and the read-only run history.

Rows are the runner's. The admin reads them from DJANGO_CRON["DATABASE"],
edits nothing but ``enabled``, and never runs a job in the request: "Run now"
hands the jobs to a background thread that claims them like any other run.
"""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import conf
from .db_schedules import cancel, definition_for, one_off_state
from .health import BROKEN, FAILING, OK, OVERDUE, PAUSED, JobOverview, health
from .models import CronJobLog, JobRun, JobSchedule, JobState
from .registry import cronScheduler
from .timeline import runs_by_job, seconds, sparkline, status_label, timeline, when
from .trigger import run_in_background

NOT_REGISTERED = "not registered"
# The job page's table of runs, its timeline, and the job list's sparklines.
RECENT_RUNS = 10
TIMELINE_RUNS = 50
SPARKLINE_RUNS = 20

HEALTH_CHOICES = [
    (OK, _("ok")),
    (OVERDUE, _("overdue")),
    (FAILING, _("failing")),
    (PAUSED, _("paused")),
    (BROKEN, _("broken")),
    (NOT_REGISTERED, _("not registered")),
]


def job_overview(state: JobState, now=None) -> JobOverview | None:
    """Return the JobOverview of a state row, or None if no job of its name is registered."""
    definition = definition_for(state)
    if definition is None:
        return None
    return JobOverview(definition, state, health(definition, state, now or timezone.now()))


def job_health(state: JobState, now=None) -> str:
    overview = job_overview(state, now)
    return NOT_REGISTERED if overview is None else overview.health


def wait_seconds(wait):
    """A run's wait for a task worker as the admin shows it; None if it was not queued."""
    return None if wait is None else seconds(wait.total_seconds())


def pre(text: str):
    """Return ``text`` escaped in a <pre> block that wraps long lines; None if empty."""
    if not text:
        return None
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def to_the_second(model, name: str):
    """
    Return an admin display of the datetime field ``name`` that shows seconds.

    The admin shows a datetime field in DATETIME_FORMAT, to the minute by
    default, which hides the order of runs a few seconds apart.
    """
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name)
    def display(self, obj):
        return when(getattr(obj, name), self.get_empty_value_display())

    return display


class CronModelAdmin(admin.ModelAdmin):
    """Read from the database that holds django_cron's rows, as the runner does."""

    def get_queryset(self, request):
        return super().get_queryset(request).using(conf.database())

    def shown(self, value):
        """Return ``value``, or the empty value display for None or ""."""
        # The change form prints a method's None as "None", where the list prints "-".
        return self.get_empty_value_display() if value in (None, "") else value


class HealthFilter(admin.SimpleListFilter):
    """Filter jobs by health, computed in Python: there are few jobs."""

    title = _("health")
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return HEALTH_CHOICES

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        now = timezone.now()
        pks = [state.pk for state in queryset if job_health(state, now) == self.value()]
        return queryset.filter(pk__in=pks)


class LastStatusFilter(admin.SimpleListFilter):
    """Filter jobs by the status of their last run; "never run" for jobs not run yet."""

    title = _("last status")
    parameter_name = "last_status"
    NEVER = "never"

    def lookups(self, request, model_admin):
        return [*JobRun.Status.choices, (self.NEVER, _("never run"))]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(last_status="" if self.value() == self.NEVER else self.value())


class JobFilter(admin.SimpleListFilter):
    """
    Filter runs by job name.

    Unlike the related-field filter, this reads the names from the cron
    database rather than from the default one.
    """

    title = _("job")
    parameter_name = "job"

    def lookups(self, request, model_admin):
        names = JobState.objects.using(conf.database()).values_list("name", flat=True)
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(job__name=self.value())


class JobChangeList(ChangeList):
    """The job list, with the runs its sparklines draw fetched for the whole page at once."""

    def get_results(self, request):
        super().get_results(request)
        # One query for the page rather than one per row. Listing the page
        # fills the queryset's cache, so the rows rendered are these objects.
        states = list(self.result_list)
        runs = runs_by_job(states, SPARKLINE_RUNS, self.queryset.db)
        for state in states:
            state.sparkline_runs = runs[state.pk]


@admin.register(JobState)
class JobStateAdmin(CronModelAdmin):
    list_display = [
        "name",
        "schedule",
        "time_zone",
        "next_run",
        "last_run",
        "run_sparkline",
        "health_status",
        "enabled",
    ]
    list_filter = [HealthFilter, LastStatusFilter, "enabled"]
    search_fields = ["name"]
    actions = ["run_now", "pause", "resume"]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "schedule", "time_zone", "health_status"]}),
        (
            _("Runs"),
            {
                "fields": [
                    "next_run",
                    "last_run_time",
                    "last_status",
                    "last_run_duration",
                    "last_wait",
                    "last_error",
                    "last_message",
                    "consecutive_failures",
                    "alerted",
                    "alert_pending",
                    "retrying_slot",
                    "retry_attempt",
                ]
            },
        ),
        (_("History"), {"fields": ["run_timeline", "recent_runs"]}),
        (
            _("Runner"),
            {
                "fields": ["schedule_key", "lease_owner", "lease_expires"],
                "classes": ["collapse"],
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Everything but ``enabled`` belongs to the runner.
        fields = [f.name for f in JobState._meta.concrete_fields if f.name not in ("id", "enabled")]
        computed = [
            "schedule",
            "time_zone",
            "health_status",
            "next_run",
            "last_run_time",
            "last_run_duration",
            "last_wait",
            "retrying_slot",
            "lease_expires",
            "run_timeline",
            "recent_runs",
        ]
        return [*fields, *computed]

    def get_changelist(self, request, **kwargs):
        return JobChangeList

    def has_add_permission(self, request):
        # The runner creates a job's row the first time it sees the job.
        return False

    def save_model(self, request, obj, form, change):
        # The runner moves next_run_at and the lease while the form is open:
        # saving the whole row would put back what it read.
        obj.save(update_fields=form.changed_data)

    @admin.display(description=_("schedule"))
    def schedule(self, obj):
        overview = job_overview(obj)
        return _("not registered") if overview is None else overview.schedule

    @admin.display(description=_("time zone"))
    def time_zone(self, obj):
        overview = job_overview(obj)
        return self.shown(None if overview is None else overview.timezone)

    next_run = to_the_second(JobState, "next_run_at")
    last_run_time = to_the_second(JobState, "last_run_at")
    retrying_slot = to_the_second(JobState, "retry_slot")
    lease_expires = to_the_second(JobState, "lease_until")

    @admin.display(description=_("last run"), ordering="last_run_at")
    def last_run(self, obj):
        if obj.last_run_at is None:
            return self.get_empty_value_display()
        return format_html("{} ({})", when(obj.last_run_at), status_label(obj.last_status))

    @admin.display(description=_("last duration"))
    def last_run_duration(self, obj):
        return self.shown(seconds(obj.last_duration))

    @admin.display(description=_("last queue wait"))
    def last_wait(self, obj):
        return self.shown(wait_seconds(obj.last_queue_wait))

    @admin.display(description=_("health"))
    def health_status(self, obj):
        value = job_health(obj)
        label = dict(HEALTH_CHOICES).get(value, value)
        if value == FAILING and obj.last_error:
            return format_html('<span title="{}">{}</span>', obj.last_error, label)
        if value == BROKEN:
            return format_html("{}: {}", label, definition_for(obj).problem)
        return label

    @admin.display(description=_("recent runs"))
    def run_sparkline(self, obj):
        runs = getattr(obj, "sparkline_runs", None)
        if runs is None:  # a row the job list did not fetch runs for
            runs = runs_by_job([obj], SPARKLINE_RUNS, obj._state.db)[obj.pk]
        return sparkline(runs) if runs else self.get_empty_value_display()

    def last_runs(self, obj):
        """Return the job's last runs, newest first, read once for the timeline and the table."""
        if not hasattr(obj, "timeline_runs"):
            obj.timeline_runs = list(obj.runs.defer("output", "traceback")[:TIMELINE_RUNS])
        return obj.timeline_runs

    @admin.display(description=_("timeline"))
    def run_timeline(self, obj):
        runs = self.last_runs(obj)
        return timeline(runs) if runs else self.get_empty_value_display()

    @admin.display(description=_("last runs"))
    def recent_runs(self, obj):
        runs = self.last_runs(obj)[:RECENT_RUNS]
        if not runs:
            return self.get_empty_value_display()
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    self._url("jobrun_change", run.pk),
                    when(run.started_at),
                    when(run.scheduled_for),
                    seconds(run.duration) or "-",
                    status_label(run.status),
                    run.attempt,
                    Truncator(run.message).chars(80),
                    Truncator(run.error).chars(80),
                )
                for run in runs
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}?{}">{}</a></p>',
            _("started"),
            _("scheduled for"),
            _("duration"),
            _("status"),
            _("attempt"),
            _("return value"),
            _("error"),
            rows,
            self._url("jobrun_changelist"),
            urlencode({JobFilter.parameter_name: obj.name}),
            _("All runs of this job"),
        )

    def _url(self, name, *args):
        return reverse(f"admin:django_cron_{name}", args=args, current_app=self.admin_site.name)

    @admin.action(description=_("Run now"), permissions=["change"])
    def run_now(self, request, queryset):
        names = list(queryset.values_list("name", flat=True))
        registered = [name for name in names if name in cronScheduler]
        missing = [name for name in names if name not in cronScheduler]
        if missing:
            self.message_user(
                request,
                _("Not run, no job of this name is registered: %(names)s.")
                % {"names": ", ".join(missing)},
                messages.WARNING,
            )
        if not registered:
            return
        # A thread, so that a long job never holds up this response. It claims
        # each slot like any run: a job running elsewhere is not run twice.
        run_in_background(registered)
        message = ngettext(
            "Started %(count)d job in the background; see {}.",
            "Started %(count)d jobs in the background; see {}.",
            len(registered),
        ) % {"count": len(registered)}
        runs = format_html('<a href="{}">{}</a>', self._url("jobrun_changelist"), _("Runs"))
        self.message_user(request, format_html(message, runs), messages.SUCCESS)

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request, queryset):
        count = queryset.update(enabled=False)
        message = ngettext("Paused %(count)d job.", "Paused %(count)d jobs.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Resume"), permissions=["change"])
    def resume(self, request, queryset):
        count = queryset.update(enabled=True)
        message = ngettext("Resumed %(count)d job.", "Resumed %(count)d jobs.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


def registered_names():
    """The jobs and commands a schedule in the database may name: the registered ones only."""
    return [(name, name) for name in sorted(d.name for d in cronScheduler.all())]


class JobScheduleForm(forms.ModelForm):
    # A choice of registered jobs, never an import path typed in: only code
    # the site registered can be scheduled from the admin.
    job = forms.ChoiceField(label=_("job"), choices=registered_names)

    class Meta:
        model = JobSchedule
        fields = "__all__"


@admin.register(JobSchedule)
class JobScheduleAdmin(CronModelAdmin):
    """
    Schedules kept in the database. The form checks an entry as ``manage.py
    check`` checks a job in code (``JobSchedule.clean()``), and saving it plans
    its next run, which runners pick up at their next pass. Deleting a
    replacement goes back to the schedule in code.
    """

    form = JobScheduleForm
    list_display = ["__str__", "kind", "runs_when", "timezone", "enabled", "next_run", "state_of"]
    list_filter = ["kind", "enabled"]
    search_fields = ["job", "description"]
    actions = ["cancel_one_off_runs"]
    fieldsets = [
        (None, {"fields": ["job", "kind", "enabled", "description"]}),
        (
            _("When"),
            {
                "fields": ["cron", "every", "timezone", "start_date", "end_date", "at"],
                "description": _(
                    "A cron expression or an interval; for a one-off run, the time to run at "
                    "(blank: now). A replacement left blank keeps the code's schedule."
                ),
            },
        ),
        (
            _("Arguments"),
            {
                "fields": ["args", "kwargs"],
                "description": _("JSON. Given, they replace the arguments given in code."),
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.kind == JobSchedule.Kind.ONCE:
            # A one-off run is scheduled once and can be cancelled, not moved.
            return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]
        # Its row and history belong to the job and kind it was made for.
        return ["job", "kind"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        obj.save(using=conf.database())  # which plans its next run

    @admin.display(description=_("when"))
    def runs_when(self, obj):
        if obj.kind == JobSchedule.Kind.ONCE:
            return when(obj.at)
        return obj.cron or (f"every {obj.every}" if obj.every else _("as in code"))

    @admin.display(description=_("next run"))
    def next_run(self, obj):
        state = getattr(obj, "state", None)
        return when(state.next_run_at if state else None, self.get_empty_value_display())

    @admin.display(description=_("state"))
    def state_of(self, obj):
        state = getattr(obj, "state", None)
        if obj.kind == JobSchedule.Kind.ONCE:
            return one_off_state(obj, state)
        return self.shown(state.last_status if state else None)

    @admin.action(description=_("Cancel the selected one-off runs"), permissions=["change"])
    def cancel_one_off_runs(self, request, queryset):
        pending = queryset.filter(kind=JobSchedule.Kind.ONCE)
        count = sum(cancel(pk) for pk in pending.values_list("pk", flat=True))
        message = ngettext(
            "Cancelled %(count)d one-off run.", "Cancelled %(count)d one-off runs.", count
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
        if count < queryset.count():
            self.message_user(
                request, _("The others had run, or were not one-off runs."), messages.WARNING
            )


RUN_FIELDS = [
    "job",
    "status",
    "attempt",
    "forced",
    "scheduled",
    "queued",
    "wait",
    "started",
    "finished",
    "run_duration",
    "owner",
]
RUN_OUTCOME_FIELDS = ["message_block", "error", "traceback_block", "output_block"]


@admin.register(JobRun)
class JobRunAdmin(CronModelAdmin):
    list_display = [
        "job_name",
        "scheduled",
        "started",
        "wait",
        "run_duration",
        "status",
        "attempt",
        "forced",
        "short_message",
        "short_error",
    ]
    list_filter = [JobFilter, "status", "started_at"]
    list_select_related = ["job"]
    date_hierarchy = "started_at"
    search_fields = ["job__name", "message", "error"]
    fieldsets = [
        (None, {"fields": RUN_FIELDS}),
        (_("Outcome"), {"fields": RUN_OUTCOME_FIELDS}),
    ]
    readonly_fields = RUN_FIELDS + RUN_OUTCOME_FIELDS

    # The history is the runner's record: it can be viewed and deleted (for
    # cleanup, and so that a gone job's row can go with its runs), not edited.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A running run's row is still the runner's to finish.
        if obj is not None and obj.status == JobRun.Status.RUNNING:
            return False
        return super().has_delete_permission(request, obj)

    scheduled = to_the_second(JobRun, "scheduled_for")
    queued = to_the_second(JobRun, "queued_at")
    started = to_the_second(JobRun, "started_at")
    finished = to_the_second(JobRun, "finished_at")

    @admin.display(description=_("queue wait"), ordering="queue_wait")
    def wait(self, obj):
        return self.shown(wait_seconds(obj.queue_wait))

    @admin.display(description=_("job"), ordering="job__name")
    def job_name(self, obj):
        return obj.job.name

    @admin.display(description=_("duration"), ordering="duration")
    def run_duration(self, obj):
        return self.shown(seconds(obj.duration))

    @admin.display(description=_("return value"))
    def short_message(self, obj):
        return self.shown(Truncator(obj.message).chars(60))

    @admin.display(description=_("return value"))
    def message_block(self, obj):
        return self.shown(pre(obj.message))

    @admin.display(description=_("error"))
    def short_error(self, obj):
        return self.shown(Truncator(obj.error).chars(80))

    @admin.display(description=_("traceback"))
    def traceback_block(self, obj):
        return self.shown(pre(obj.traceback))

    @admin.display(description=_("output"))
    def output_block(self, obj):
        return self.shown(pre(obj.output))


class CronJobLogAdmin(CronModelAdmin):
    """Tivix django-cron's run log, read-only; the same runs are under Runs too."""

    list_display = ["code", "start_time", "end_time", "is_success", "ran_at_time"]
    list_filter = ["is_success", "code"]
    search_fields = ["code", "message"]
    date_hierarchy = "start_time"
    readonly_fields = ["code", "start_time", "end_time", "is_success", "message", "ran_at_time"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Only on sites with Tivix jobs, whose log it is.
if getattr(settings, "CRON_CLASSES", None):
    admin.site.register(CronJobLog, CronJobLogAdmin)
