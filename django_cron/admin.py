"""
The admin: jobs with their schedule and health, the read-only run history,
schedules kept in the database, the audit trail and the operator keys.

Rows are the runner's. The admin reads them from DJANGO_CRON["DATABASE"],
edits nothing of a job but ``enabled`` and the reason for a pause, and never
runs a job in the request: "Run now" hands the jobs to a background thread
that claims them like any other run. Every change leaves an audit row.

Permissions nest as the model permissions say: whatever makes a job run, stop
or run more often (run now, pause, a schedule in the database) needs
``change_jobstate``; a job's runs show only with ``view_jobrun``, and its
audit trail only with ``view_auditentry``.
"""

import json
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import audit, conf, inputs
from .arguments import operator_arguments
from .db_schedules.api import cancel
from .db_schedules.listing import one_off_state
from .definitions import definition_for
from .health import (
    BROKEN,
    FAILING,
    HEALTH_CHOICES,
    job_health,
    job_overview,
    skipped_text,
)
from .keys import revoke as revoke_key
from .models import (
    MISSED,
    AuditEntry,
    Backfill,
    Blackout,
    CronJobLog,
    JobRun,
    JobSchedule,
    JobState,
    OperatorKey,
)
from .registry import registry
from .runtime import backfills
from .runtime.states import resume as resume_rows
from .timeline import runs_by_job, seconds, sparkline, status_label, timeline, when
from .trigger import backfill_in_background, run_in_background, trigger

VIA = AuditEntry.Via.ADMIN
CHANGE_JOBS = "django_cron.change_jobstate"
# The job page's audit trail: the latest entries, and a link to the rest.
AUDIT_SHOWN = 10

# The job page's table of runs, its timeline, and the job list's sparklines.
# The next runs a job's page lists.
UPCOMING_RUNS = 10
RECENT_RUNS = 10
TIMELINE_RUNS = 50
SPARKLINE_RUNS = 20


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

    def record(self, request, action: str, job: str = "", **fields) -> None:
        """Write the audit row of an action of this request's user."""
        audit.record(audit.user_actor(request.user), VIA, action, job, request=request, **fields)

    def _url(self, name, *args):
        return reverse(f"admin:django_cron_{name}", args=args, current_app=self.admin_site.name)


class AuditedAdmin(CronModelAdmin):
    """
    The admin of rows whose every change leaves an audit row, written in the
    change's transaction: who made it, and what it was before and after.
    """

    # Set by each subclass: the field that keeps who made a row, and the
    # audit trail's actions for adding, changing and deleting one.
    author_field = ""
    actions_named = ("add", "change", "delete")

    def audited(self, obj) -> dict:
        """The row as the audit trail keeps it."""
        return {"id": obj.pk, **model_to_dict(obj, exclude=["id"])}

    def audit_job(self, obj) -> str:
        """The job (or pattern of jobs) the row is about, for the audit trail."""
        return ""

    def audit_extra(self, obj) -> dict:
        """More of the audit row (arguments, a note)."""
        return {}

    def save_model(self, request, obj, form, change):
        rows = type(obj).objects.using(conf.database())
        before = self.audited(rows.get(pk=obj.pk)) if change else None
        if not change:
            setattr(obj, self.author_field, audit.user_actor(request.user))
        added, changed, _deleted = self.actions_named
        with transaction.atomic(using=conf.database()):
            obj.save(using=conf.database())
            self.record(
                request,
                changed if change else added,
                self.audit_job(obj),
                before=before,
                after=self.audited(obj),
                **self.audit_extra(obj),
            )

    def delete_model(self, request, obj):
        with transaction.atomic(using=conf.database()):
            self.record(
                request, self.actions_named[2], self.audit_job(obj), before=self.audited(obj)
            )
            obj.delete(using=conf.database())

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=conf.database()):
            for obj in queryset:
                self.delete_model(request, obj)


def _local(moment, zone) -> str:
    return date_format(moment.astimezone(zone), "Y-m-d H:i:s")


def may_see(request, model) -> bool:
    """Tell whether the request's user may view ``model`` in the admin."""
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or (
        request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
    )


class PauseForm(forms.Form):
    """The reason the admin asks for before it pauses jobs."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Shown with the job until it is resumed, and kept in the audit trail."),
    )


class BackfillForm(forms.Form):
    """The range, and what to do with slots that ran, that the admin asks for before a backfill."""

    start = forms.DateTimeField(label=_("From"), help_text=_("The first slot, in TIME_ZONE."))
    end = forms.DateTimeField(label=_("To"), help_text=_("Not included."))
    overlap = forms.ChoiceField(
        label=_("While another run is in flight"),
        choices=Backfill.Overlap.choices,
        initial=Backfill.Overlap.BUFFER_ALL,
    )
    again = forms.BooleanField(
        label=_("Run again the slots that had a successful run"), required=False
    )


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
        # "missed" is a last status, not a run's: its slot was skipped, with no run.
        return [*JobRun.Status.choices, (MISSED, _("missed")), (self.NEVER, _("never run"))]

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
    actions = ["run_now", "pause", "resume", "backfill"]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "schedule", "time_zone", "health_status"]}),
        (_("Pause"), {"fields": ["pause_reason", "paused_by", "paused_when"]}),
        (
            _("Runs"),
            {
                "fields": [
                    "next_run",
                    "upcoming_runs",
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
                    "skipped",
                ]
            },
        ),
        (_("History"), {"fields": ["run_timeline", "recent_runs"]}),
        (_("Audit trail"), {"fields": ["audit_trail"]}),
        (
            _("Runner"),
            {
                "fields": ["schedule_key", "lease_owner", "lease_expires"],
                "classes": ["collapse"],
            },
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        # A job's runs (return values, errors) are the run history's to show,
        # and its audit trail the audit trail's.
        hidden = set()
        if not may_see(request, JobRun):
            hidden.add(_("History"))
        if not may_see(request, AuditEntry):
            hidden.add(_("Audit trail"))
        return [fieldset for fieldset in self.fieldsets if fieldset[0] not in hidden]

    def get_list_display(self, request):
        if may_see(request, JobRun):
            return self.list_display
        return [field for field in self.list_display if field != "run_sparkline"]

    def get_readonly_fields(self, request, obj=None):
        # Everything but ``enabled`` and the reason for a pause belongs to the runner.
        editable = ("id", "enabled", "pause_reason")
        fields = [f.name for f in JobState._meta.concrete_fields if f.name not in editable]
        computed = [
            "skipped",
            "upcoming_runs",
            "paused_when",
            "audit_trail",
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
        fields = set(form.changed_data)
        resuming = "enabled" in fields and obj.enabled
        if resuming:
            # resume() turns it on, skipping the slots that fell in the pause.
            fields.discard("enabled")
        elif "enabled" in fields:
            paused = JobState.paused_fields(audit.user_actor(request.user), obj.pause_reason)
            for field, value in paused.items():
                setattr(obj, field, value)
            fields |= set(paused)
        with transaction.atomic(using=conf.database()):
            obj.save(update_fields=fields)
            if resuming:
                resume_rows(JobState.objects.using(conf.database()).filter(pk=obj.pk))
                fields.add("enabled")
                trigger.wake()
            if "enabled" in fields or ("pause_reason" in fields and not obj.enabled):
                action = "resume" if obj.enabled else "pause"
                self.record(request, action, obj.name, note=obj.pause_reason)

    def delete_model(self, request, obj):
        with transaction.atomic(using=conf.database()):
            self.record(request, "delete job", obj.name)
            obj.delete()

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=conf.database()):
            for name in queryset.values_list("name", flat=True):
                self.record(request, "delete job", name)
            queryset.delete()

    @admin.display(description=_("schedule"))
    def schedule(self, obj):
        overview = job_overview(obj)
        return _("not registered") if overview is None else overview.schedule_text

    @admin.display(description=_("time zone"))
    def time_zone(self, obj):
        overview = job_overview(obj)
        return self.shown(None if overview is None else overview.timezone)

    @admin.display(description=_("next runs"))
    def upcoming_runs(self, obj):
        """The next runs, after pauses, blackout windows and times, in both time zones."""
        overview = job_overview(obj)
        upcoming = overview.upcoming(UPCOMING_RUNS) if overview is not None else []
        if not upcoming:
            return self.get_empty_value_display()
        zone, site = ZoneInfo(overview.definition.timezone), timezone.get_default_timezone()
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((_local(slot, zone), _local(slot, site)) for slot in upcoming),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            zone.key,
            f"{site.key} (TIME_ZONE)",
            rows,
        )

    next_run = to_the_second(JobState, "next_run_at")
    paused_when = to_the_second(JobState, "paused_at")
    last_run_time = to_the_second(JobState, "last_run_at")
    retrying_slot = to_the_second(JobState, "retry_slot")

    @admin.display(description=_("slots skipped"))
    def skipped(self, obj):
        return self.shown(skipped_text(obj))

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
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    self._url("jobrun_change", run.pk),
                    when(run.started_at),
                    when(run.scheduled_for),
                    seconds(run.lateness) or "-",
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
            "<th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}?{}">{}</a></p>',
            _("started"),
            _("scheduled for"),
            _("late"),
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

    @admin.display(description=_("audit trail"))
    def audit_trail(self, obj):
        entries = AuditEntry.objects.using(conf.database()).filter(job=obj.name)[:AUDIT_SHOWN]
        if not entries:
            return self.get_empty_value_display()
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (when(e.at), e.actor, e.get_via_display(), e.action, Truncator(e.note).chars(80))
                for e in entries
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            '</thead><tbody>{}</tbody></table><p><a href="{}?{}">{}</a></p>',
            _("when"),
            _("who"),
            _("via"),
            _("action"),
            _("note"),
            rows,
            self._url("auditentry_changelist"),
            urlencode({"job": obj.name}),
            _("The whole audit trail of this job"),
        )

    @admin.action(description=_("Run now"), permissions=["change"])
    def run_now(self, request, queryset):
        names = list(queryset.values_list("name", flat=True))
        registered = [name for name in names if name in registry]
        missing = [name for name in names if name not in registry]
        if missing:
            self.message_user(
                request,
                _("Not run, no job of this name is registered: %(names)s.")
                % {"names": ", ".join(missing)},
                messages.WARNING,
            )
        if not registered:
            return
        actor = audit.user_actor(request.user)
        for name in registered:
            self.record(request, "run", name)
        # A thread, so that a long job never holds up this response. It claims
        # each slot like any run: a job running elsewhere is not run twice.
        run_in_background(registered, forced_by=actor)
        message = ngettext(
            "Started %(count)d job in the background; see {}.",
            "Started %(count)d jobs in the background; see {}.",
            len(registered),
        ) % {"count": len(registered)}
        runs = format_html('<a href="{}">{}</a>', self._url("jobrun_changelist"), _("Runs"))
        self.message_user(request, format_html(message, runs), messages.SUCCESS)

    def ask(self, request, queryset, form, action, title, intro, button):
        """The page of an action that asks first: the jobs, the form, and a button."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "action": action,
            "button": button,
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/django_cron/jobstate/ask.html", context)

    @admin.action(description=_("Pause…"), permissions=["change"])
    def pause(self, request, queryset):
        """Ask for the reason, then pause the selected jobs."""
        form = PauseForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            intro = _("These jobs will not run until they are resumed.")
            return self.ask(request, queryset, form, "pause", _("Pause jobs"), intro, _("Pause"))
        reason = form.cleaned_data["reason"].strip()
        paused = JobState.paused_fields(audit.user_actor(request.user), reason)
        with transaction.atomic(using=conf.database()):
            names = list(queryset.filter(enabled=True).values_list("name", flat=True))
            count = queryset.filter(name__in=names).update(**paused)
            for name in names:
                self.record(request, "pause", name, note=reason)
        message = ngettext("Paused %(count)d job.", "Paused %(count)d jobs.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
        return None

    @admin.action(description=_("Backfill…"), permissions=["change"])
    def backfill(self, request, queryset):
        """Ask for the range, then run each selected job once for each slot in it."""
        form = BackfillForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            intro = _(
                "Each of these jobs runs once for each slot of its schedule in the range, "
                "oldest first."
            )
            title = _("Backfill jobs")
            return self.ask(request, queryset, form, "backfill", title, intro, _("Backfill"))
        data, actor, made = form.cleaned_data, audit.user_actor(request.user), []
        for name in queryset.values_list("name", flat=True):
            try:
                backfill = backfills.create(
                    name,
                    data["start"],
                    data["end"],
                    data["overlap"],
                    data["again"],
                    actor,
                    then=lambda made, name=name: self.record(
                        request, "backfill", name, after={"backfill": made.pk}
                    ),
                )
            except ValidationError as exc:
                self.message_user(request, f"{name}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            made.append(backfill)
        for backfill in made:
            backfill_in_background(backfill)
        if made:
            link = format_html(
                '<a href="{}">{}</a>', self._url("backfill_changelist"), _("Backfills")
            )
            message = ngettext(
                "Backfilling %(count)d job in the background; see {}.",
                "Backfilling %(count)d jobs in the background; see {}.",
                len(made),
            ) % {"count": len(made)}
            self.message_user(request, format_html(message, link), messages.SUCCESS)
        return None

    @admin.action(description=_("Resume"), permissions=["change"])
    def resume(self, request, queryset):
        with transaction.atomic(using=conf.database()):
            names = resume_rows(queryset)
            count = len(names)
            trigger.wake()  # their next runs may come before this process's next idle check
            for name in names:
                self.record(request, "resume", name)
        message = ngettext("Resumed %(count)d job.", "Resumed %(count)d jobs.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


def registered_names():
    """The jobs and commands a schedule in the database may name: the registered ones only."""
    return [(name, name) for name in sorted(d.name for d in registry.all())]


class ArgumentsField(forms.JSONField):
    """
    JSON arguments as an operator types them: at most BODY_LIMIT characters,
    nested at most DEPTH_LIMIT deep, with no NUL or lone surrogate, so that a
    paste of anything is a form error, never a 500.
    """

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            if len(value) > inputs.BODY_LIMIT:
                raise ValidationError(
                    _("Keep the arguments under %(limit)d characters."),
                    params={"limit": inputs.BODY_LIMIT},
                )
            try:
                parsed = json.loads(value)
            except RecursionError:
                raise ValidationError(
                    _("Nest the arguments at most %(depth)d levels deep."),
                    params={"depth": inputs.DEPTH_LIMIT},
                ) from None
            except ValueError:
                return super().to_python(value)  # which says it is not JSON
            try:
                inputs.check_json(parsed, "The value")
            except inputs.BadInput as exc:
                raise ValidationError(str(exc)) from None
        return super().to_python(value)

    def bound_data(self, data, initial):
        # Shown again in the form with its error, as typed: parsed, it could
        # recurse, or hold a lone surrogate that no page can be encoded with.
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            inputs.check_json(json.loads(data), "The value")
        except (RecursionError, ValueError):
            return forms.fields.InvalidJSONInput(data)
        return super().bound_data(data, initial)


class JobScheduleForm(forms.ModelForm):
    # A choice of registered jobs, never an import path typed in: only code
    # the site registered can be scheduled from the admin.
    job = forms.ChoiceField(label=_("job"), choices=registered_names)
    args = ArgumentsField(label=_("arguments"), required=False, initial=list)
    kwargs = ArgumentsField(label=_("keyword arguments"), required=False, initial=dict)

    class Meta:
        model = JobSchedule
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        job = cleaned.get("job", self.instance.job)
        changed = {"args", "kwargs"} & set(self.changed_data)
        if job in registry and (changed or self.instance.pk is None):
            # From the admin, only the arguments the job declares (arguments.py);
            # arguments that code stored and nobody changed here stay as they are.
            try:
                cleaned["args"], cleaned["kwargs"] = operator_arguments(
                    registry.get(job), cleaned.get("args") or [], cleaned.get("kwargs") or {}
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        for field in ("args", "kwargs"):
            if cleaned.get(field) is None and field in cleaned:
                cleaned[field] = [] if field == "args" else {}
        return cleaned


@admin.register(JobSchedule)
class JobScheduleAdmin(AuditedAdmin):
    """
    Schedules kept in the database. The form checks an entry as ``manage.py
    check`` checks a job in code (``JobSchedule.clean()``), and saving it plans
    its next run, which runners pick up at their next pass. Deleting a
    replacement goes back to the schedule in code.
    """

    form = JobScheduleForm
    list_display = [
        "__str__",
        "kind",
        "runs_when",
        "timezone",
        "enabled",
        "next_run",
        "state_of",
        "author",
    ]
    list_filter = ["kind", "enabled"]
    search_fields = ["job", "description"]
    actions = ["cancel_one_off_runs"]
    fieldsets = [
        (None, {"fields": ["job", "kind", "enabled", "description"]}),
        (
            _("When"),
            {
                "fields": ["cron", "every", "timezone", "start_date", "end_date", "at", "times"],
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

    # A schedule says when and how often a job runs, and whether it runs at
    # all: writing one needs the permission to change jobs as well.
    def has_add_permission(self, request):
        return super().has_add_permission(request) and request.user.has_perm(CHANGE_JOBS)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and request.user.has_perm(CHANGE_JOBS)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and request.user.has_perm(CHANGE_JOBS)

    # Saving an entry plans its next run, in the same transaction as its audit row.
    author_field = "author"
    actions_named = ("add schedule", "change schedule", "delete schedule")

    def audit_job(self, obj):
        return obj.job

    def audit_extra(self, obj):
        return {"arguments": {"args": obj.args, "kwargs": obj.kwargs}}

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
        count = 0
        for pk, job in pending.values_list("pk", "job"):
            with transaction.atomic(using=conf.database()):
                if cancel(pk):
                    count += 1
                    self.record(request, "cancel", job, before={"once": pk})
        message = ngettext(
            "Cancelled %(count)d one-off run.", "Cancelled %(count)d one-off runs.", count
        )
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
        if count < queryset.count():
            self.message_user(
                request, _("The others had run, or were not one-off runs."), messages.WARNING
            )


@admin.register(Backfill)
class BackfillAdmin(CronModelAdmin):
    """Backfills asked for, and how far each got. Started from the job list's "Backfill…"."""

    list_display = ["job", "starts", "ends", "overlap", "progress", "requested_by", "asked"]
    list_filter = ["job"]
    readonly_fields = [f.name for f in Backfill._meta.fields] + ["progress"]
    starts = to_the_second(Backfill, "start")
    ends = to_the_second(Backfill, "end")
    asked = to_the_second(Backfill, "created_at")

    @admin.display(description=_("progress"))
    def progress(self, obj):
        ran = obj.runs.count()
        text = _("ran %(ran)d of %(total)d slots") % {"ran": ran, "total": obj.total}
        if obj.passed:
            text += ", " + _("%(passed)d not run") % {"passed": obj.passed}
        if obj.finished_at is not None:
            text += ", " + _("finished")
        return text

    def has_add_permission(self, request):
        return False  # asked for from the job list, with the job's own checks

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Blackout)
class BlackoutAdmin(AuditedAdmin):
    """
    Windows in which no job runs, or none whose name matches a pattern: the
    slots inside one are skipped and counted, as a pause's are. A change is
    in force at the runners' next pass.
    """

    list_display = ["jobs_matched", "starts", "ends", "in_force", "reason", "created_by"]
    list_filter = ["start"]
    search_fields = ["jobs", "reason"]
    fields = ["start", "end", "jobs", "reason"]
    starts = to_the_second(Blackout, "start")
    ends = to_the_second(Blackout, "end")

    @admin.display(description=_("jobs"), ordering="jobs")
    def jobs_matched(self, obj):
        return obj.jobs or _("every job")

    @admin.display(description=_("in force"), boolean=True)
    def in_force(self, obj):
        return obj.in_force

    author_field = "created_by"
    actions_named = ("blackout", "change blackout", "delete blackout")

    def audit_job(self, obj):
        return obj.jobs

    def audit_extra(self, obj):
        return {"note": obj.reason}


RUN_FIELDS = [
    "job",
    "status",
    "attempt",
    "forced",
    "started_by",
    "scheduled",
    "queued",
    "wait",
    "started",
    "late",
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
        "late",
        "wait",
        "run_duration",
        "status",
        "attempt",
        "started_by",
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

    @admin.display(description=_("late"))
    def late(self, obj):
        """How long after its slot the run started; blank for a forced run."""
        return self.shown(seconds(obj.lateness))

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


@admin.register(AuditEntry)
class AuditEntryAdmin(CronModelAdmin):
    """The audit trail: read-only, kept as long as the run history."""

    list_display = ["when_done", "actor", "via", "action", "job", "short_note", "remote_addr"]
    list_filter = ["via", "action"]
    search_fields = ["actor", "job", "note"]
    date_hierarchy = "at"
    fields = [
        "when_done",
        "actor",
        "via",
        "action",
        "job",
        "arguments",
        "before",
        "after",
        "note",
        "remote_addr",
    ]
    readonly_fields = fields

    when_done = to_the_second(AuditEntry, "at")

    @admin.display(description=_("note"))
    def short_note(self, obj):
        return self.shown(Truncator(obj.note).chars(80))

    # Nobody rewrites or removes what happened; pruning follows HISTORY_DAYS.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OperatorKey)
class OperatorKeyAdmin(CronModelAdmin):
    """
    Operator keys, listed and revoked here. They are made with ``manage.py
    cron key create``, which prints the key once: the database keeps only a
    digest, so nothing here can show it.
    """

    list_display = ["name", "scopes", "created", "created_by", "last_used", "revoked"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    actions = ["revoke"]
    fields = ["name", "scopes", "created", "created_by", "last_used", "revoked"]
    readonly_fields = fields

    created = to_the_second(OperatorKey, "created_at")
    last_used = to_the_second(OperatorKey, "last_used_at")
    revoked = to_the_second(OperatorKey, "revoked_at")

    def has_add_permission(self, request):
        return False  # manage.py cron key create NAME --scope ...

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: the audit trail names it

    @admin.action(description=_("Revoke"), permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        with transaction.atomic(using=conf.database()):
            for key in queryset.filter(revoked_at__isnull=True):
                if revoke_key(key.name) is not None:
                    count += 1
                    self.record(request, "revoke key", note=key.name)
        message = ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


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
