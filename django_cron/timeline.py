"""
Pictures of a job's runs for the admin: a timeline and a sparkline, as inline SVG.

They are drawn on the server from the run rows, with no script, stylesheet or
other asset to serve. A run's output and error are user data: every piece of
text goes through format_html, and each bar's <title> is the tooltip.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from .models import JobRun

STATUS_COLOURS = {
    JobRun.Status.OK: "#2e9d47",
    JobRun.Status.FAILED: "#d93b3b",
    JobRun.Status.TIMED_OUT: "#e8871e",
    JobRun.Status.LOST: "#8c8c8c",
    JobRun.Status.RUNNING: "#2f7fd8",
    JobRun.Status.QUEUED: "#9bbce0",
}
OTHER_COLOUR = "#8c8c8c"
STATUS_LABELS = dict(JobRun.Status.choices)
# What a tooltip shows of a run's message or error; the run page has the rest.
TITLE_CHARS = 300
# The fields a picture reads: not the output or traceback, which may be long.
PICTURE_FIELDS = ["job", "started_at", "duration", "status", "message", "error"]

TIMELINE_WIDTH = 800
TIMELINE_PAD = 4
BAR_TOP, BAR_HEIGHT = 6, 34
AXIS_Y = BAR_TOP + BAR_HEIGHT + 4
TIMELINE_HEIGHT = AXIS_Y + 18
# A run of a few milliseconds in a week of runs would be narrower than a pixel.
MIN_BAR_WIDTH = 3

SPARK_BAR, SPARK_GAP, SPARK_HEIGHT, SPARK_MIN_HEIGHT = 4, 1, 18, 3


def when(value: datetime | None, empty: str = "-") -> str:
    """Return ``value`` in the current time zone, to the second; ``empty`` for None."""
    if value is None:
        return empty
    try:
        value = timezone.template_localtime(value)
    except OverflowError:
        pass  # at the edge of year 1 or 9999: shown in UTC rather than not at all
    return date_format(value, "Y-m-d H:i:s")


def seconds(value: float | None) -> str | None:
    """Return a duration in seconds as the admin shows one; None for None."""
    if value is None:
        return None
    return "< 0.01 s" if value < 0.01 else f"{value:.2f} s"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def runs_by_job(states: Sequence, count: int, using: str) -> dict[int, list[JobRun]]:
    """Return the last ``count`` runs of each of ``states``, newest first, in one query."""
    # Numbered per job, newest first: a window function, so that a page of
    # jobs costs one query however many jobs and runs there are.
    position = Window(
        RowNumber(), partition_by=F("job_id"), order_by=[F("started_at").desc(), F("id").desc()]
    )
    runs = (
        JobRun.objects.using(using)
        .filter(job__in=[state.pk for state in states])
        .only(*PICTURE_FIELDS)
        .annotate(position=position)
        .filter(position__lte=count)
        .order_by("job_id", "position")
    )
    by_job = {state.pk: [] for state in states}
    for run in runs:
        by_job[run.job_id].append(run)
    return by_job


def _elapsed(run: JobRun, now: datetime) -> float:
    """Return how long ``run`` took, or has taken so far if it is still running."""
    if run.duration is not None:
        return run.duration
    if run.status == JobRun.Status.RUNNING:
        return max((now - run.started_at).total_seconds(), 0.0)
    return 0.0


def _title(run: JobRun, now: datetime) -> str:
    took = _elapsed(run, now)
    if run.duration is None and run.status != JobRun.Status.RUNNING:
        took = None  # lost or queued: how long is not known
    lines = [f"{when(run.started_at)} · {seconds(took) or '-'} · {status_label(run.status)}"]
    detail = run.error or run.message
    if detail:
        lines.append(Truncator(detail).chars(TITLE_CHARS))
    return "\n".join(lines)


# One run: its status as a class and a colour, its tooltip as the <title>.
BAR = '<rect class="{}" fill="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>'


def _bar(run: JobRun, now: datetime, x: float, y: float, width: float, height: float):
    """Return the arguments of BAR for ``run``."""
    return (
        f"run run-{run.status}",
        STATUS_COLOURS.get(run.status, OTHER_COLOUR),
        f"{x:.1f}",
        f"{y:.1f}",
        f"{width:.1f}",
        f"{height:.1f}",
        _title(run, now),
    )


def timeline(runs: Sequence[JobRun], now: datetime | None = None) -> SafeString:
    """
    Return an SVG timeline of ``runs``: each run a bar that starts when the run
    started, as wide as it lasted, coloured by its status.
    """
    now = now or timezone.now()
    runs = sorted(runs, key=lambda run: (run.started_at, run.pk or 0))
    start = runs[0].started_at
    end = max(run.started_at + timedelta(seconds=_elapsed(run, now)) for run in runs)
    # One run, or runs in the same instant, still get an axis to stand on.
    span = max((end - start).total_seconds(), 1.0)
    right = TIMELINE_WIDTH - TIMELINE_PAD
    scale = (right - TIMELINE_PAD) / span
    bars = []
    for run in runs:
        width = max(_elapsed(run, now) * scale, MIN_BAR_WIDTH)
        x = TIMELINE_PAD + (run.started_at - start).total_seconds() * scale
        bars.append(_bar(run, now, min(x, right - width), BAR_TOP, width, BAR_HEIGHT))
    return format_html(
        '<svg class="cron-timeline" xmlns="http://www.w3.org/2000/svg" role="img" '
        'aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}" '
        'style="max-width: 100%; height: auto; display: block">'
        "{}"
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity="0.4"/>'
        '<text x="{}" y="{}" font-size="11" fill="currentColor">{}</text>'
        '<text x="{}" y="{}" font-size="11" fill="currentColor" text-anchor="end">{}</text>'
        "</svg>",
        _("Timeline of the last runs"),
        TIMELINE_WIDTH,
        TIMELINE_HEIGHT,
        TIMELINE_WIDTH,
        TIMELINE_HEIGHT,
        format_html_join("", BAR, bars),
        TIMELINE_PAD,
        AXIS_Y,
        right,
        AXIS_Y,
        TIMELINE_PAD,
        TIMELINE_HEIGHT - 3,
        when(start),
        right,
        TIMELINE_HEIGHT - 3,
        when(end),
    )


def sparkline(runs: Sequence[JobRun], now: datetime | None = None) -> SafeString:
    """Return a small SVG of ``runs``, oldest first: one bar each, as tall as it was long."""
    now = now or timezone.now()
    runs = sorted(runs, key=lambda run: (run.started_at, run.pk or 0))
    longest = max(_elapsed(run, now) for run in runs) or 1.0
    bars = []
    for index, run in enumerate(runs):
        height = max(_elapsed(run, now) / longest * SPARK_HEIGHT, SPARK_MIN_HEIGHT)
        x = index * (SPARK_BAR + SPARK_GAP)
        bars.append(_bar(run, now, x, SPARK_HEIGHT - height, SPARK_BAR, height))
    width = len(runs) * (SPARK_BAR + SPARK_GAP) - SPARK_GAP
    return format_html(
        '<svg class="cron-sparkline" xmlns="http://www.w3.org/2000/svg" role="img" '
        'aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}">{}</svg>',
        _("The last runs, oldest first"),
        width,
        SPARK_HEIGHT,
        width,
        SPARK_HEIGHT,
        format_html_join("", BAR, bars),
    )
