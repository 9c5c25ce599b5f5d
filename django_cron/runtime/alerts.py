"""
Telling people about a job: mail to ADMINS when it keeps failing and when it
recovers. (Outbound pings to monitors are ``pings.py``'s.)

An alert is decided once, by a conditional UPDATE, and then waits on the job's
state row (``alert_pending``) until a mail goes out: one that cannot be sent
is tried again at each later pass, and a mail server that is down never
breaks a run.
"""

import logging

from django.core.mail import mail_admins
from django.db.models import Case, F, Value, When

from .. import conf
from ..clock import with_offset
from ..models import JobRun, JobState

logger = logging.getLogger("django_cron")

# The kinds of alert, as ``JobState.alert_pending`` holds them: not health
# values (health.py), though "failing" is also one.
ALERT_FAILING = "failing"
ALERT_RECOVERED = "recovered"
ALERT_PAUSED = "paused"
# Who pauses a job after failures in a row (pause_after), as its pause says.
PAUSED_BY = "django_cron"


def _states(pk):
    return JobState.objects.using(conf.database()).filter(pk=pk)


def count_and_send(definition, state_pk, status: str, error: str = "") -> None:
    """
    Count the job's failures in a row. Decide an alert when they reach the
    job's ``alert_after``, and one when the job succeeds after an alert; then
    try to send it. At ``pause_after`` failures in a row, pause the job, with
    why, and decide the alert that says so instead.
    """
    states = _states(state_pk)
    if status == JobRun.Status.OK:
        # Conditional, so that of two processes one decides the recovery alert.
        if not states.filter(alerted=True).update(
            consecutive_failures=0, alerted=False, alert_pending=ALERT_RECOVERED
        ):
            states.update(consecutive_failures=0)
            return
    else:
        states.update(consecutive_failures=F("consecutive_failures") + 1)
        if not (_pause(definition, states, error) or _alert(definition, states)):
            return
    send(definition.name, state_pk)


def _alert(definition, states) -> bool:
    """Decide the failing alert if the failures in a row reached alert_after; return whether."""
    limit = definition.alert_after
    return bool(limit) and bool(
        states.filter(consecutive_failures__gte=limit, alerted=False).update(
            alerted=True, alert_pending=ALERT_FAILING
        )
    )


def _pause(definition, states, error: str) -> bool:
    """Pause the job if its failures in a row reached pause_after; return whether this did."""
    limit = definition.pause_after
    if not limit:
        return False
    reason = f"paused after {limit} failures in a row; last error: {error or 'none given'}"
    return bool(
        states.filter(consecutive_failures__gte=limit, enabled=True).update(
            **JobState.paused_fields(PAUSED_BY, reason[:2000]),
            alerted=True,
            alert_pending=ALERT_PAUSED,
        )
    )


def success() -> dict:
    """
    Return the field updates that count a success, for the UPDATE that
    records it: failures back to 0, and the recovery alert decided if the job
    was alerted about. Conditional in SQL, so of two processes one decides it.
    """
    # alert_pending first: MySQL and MariaDB assign left to right, each
    # expression seeing the columns already assigned, so after alerted=False
    # the CASE would never decide the recovery alert.
    return {
        "alert_pending": Case(
            When(alerted=True, then=Value(ALERT_RECOVERED)), default=F("alert_pending")
        ),
        "consecutive_failures": 0,
        "alerted": False,
    }


def send(name: str, state_pk, retry: bool = False) -> bool:
    """
    Send the alert waiting on the job's state, if any; return whether one went out.

    The first failure to send is logged as a warning; the retries of later
    passes log at debug level, so a mail server that is down for a day does
    not fill the logs.
    """
    states = _states(state_pk)
    state = states.first()
    if state is None or not state.alert_pending:
        return False
    kind = state.alert_pending
    # Taken by one process: another pass running meanwhile does not send it too.
    if not states.filter(alert_pending=kind).update(alert_pending=""):
        return False
    try:
        mail_admins(*_mail(name, state, kind))
    except Exception as exc:
        # Back in the queue, unless a newer alert (a recovery) took its place.
        states.filter(alert_pending="").update(alert_pending=kind)
        log = logger.debug if retry else logger.warning
        log("The %s alert about %s could not be sent (%r); each pass tries again.", kind, name, exc)
        return False
    if retry:
        logger.info("The %s alert about %s was sent after all.", kind, name)
    return True


def _mail(name, state, kind):
    if kind == ALERT_RECOVERED:
        last = with_offset(state.last_run_at)
        when = f"{last:%Y-%m-%d %H:%M:%S %Z}" if last else "last run"
        return f"[cron] {name} recovered", f"{name} ran fine at {when} after failing."
    if kind == ALERT_PAUSED:
        return (
            f"[cron] {name} paused after failing {state.consecutive_failures} times in a row",
            f"{name} was {state.pause_reason}\n\n"
            "It runs again once someone resumes it, in the admin or through the API.",
        )
    failures = state.consecutive_failures
    last = (
        JobRun.objects.using(conf.database())
        .filter(job_id=state.pk)
        .exclude(status__in=[JobRun.Status.OK, JobRun.Status.RUNNING, JobRun.Status.QUEUED])
        .order_by("-started_at", "-pk")
        .values_list("error", "traceback")
        .first()
    )
    error, trace = last or (state.last_error, "")
    return (
        f"[cron] {name} failed {failures} times in a row",
        f"{name} has failed {failures} times in a row. The last error:\n\n{error}\n\n{trace}",
    )
