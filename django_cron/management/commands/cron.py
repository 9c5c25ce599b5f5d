import argparse
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction
from django.utils import timezone

from django_cron import audit, conf, keys
from django_cron.availability import NotMigrated, diagnose, pending_migrations
from django_cron.clock import aware
from django_cron.db_schedules.listing import one_offs
from django_cron.definitions import definition_for
from django_cron.health import (
    BROKEN,
    FAILING,
    FINISHED,
    PAUSED,
    JobOverview,
    health,
    is_healthy,
    overview,
    skipped_text,
)
from django_cron.models import (
    AuditEntry,
    Backfill,
    JobRun,
    JobSchedule,
    JobState,
    OperatorKey,
    first_line,
)
from django_cron.registry import registry
from django_cron.runner import run_due
from django_cron.runtime import backfills
from django_cron.text import printable
from django_cron.worker import Worker

# The most runs ``cron next`` lists.
NEXT_LIMIT = 1000

VIA = AuditEntry.Via.COMMAND_LINE


def _when(dt):
    # With its offset: without USE_TZ, the naive time would not say which zone it is in.
    if dt is None:
        return "-"
    try:
        return timezone.localtime(aware(dt)).isoformat(timespec="seconds")
    except OverflowError:  # at the edge of year 9999
        return aware(dt).isoformat(timespec="seconds")


def _arguments(entry) -> str:
    """The arguments of a schedule in the database or a one-off run, as JSON."""
    args = entry["args"] if isinstance(entry, dict) else entry.args
    kwargs = entry["kwargs"] if isinstance(entry, dict) else entry.kwargs
    return " ".join(json.dumps(value) for value in (args, kwargs) if value)


def _line(text: str) -> str:
    """The first line of a job's text, as a terminal may show it: escapes escaped."""
    return printable(first_line(text))


# Django's options for every command. Django parses them before the action
# only; each action takes them too, so that `cron run --settings=... -v 2`
# works as `migrate --settings=... -v 2` does. SUPPRESS keeps an action from
# overwriting with its default what was given before the action.
COMMON_OPTIONS = [
    (("-v", "--verbosity"), {"type": int, "choices": [0, 1, 2, 3]}),
    (("--settings",), {}),
    (("--pythonpath",), {}),
    (("--traceback",), {"action": "store_true"}),
    (("--no-color",), {"action": "store_true"}),
    (("--force-color",), {"action": "store_true"}),
    (("--skip-checks",), {"action": "store_true"}),
]


def _add_common_options(parser):
    for flags, kwargs in COMMON_OPTIONS:
        parser.add_argument(*flags, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _add_backfill(sub) -> None:
    """Add the backfill action and its options."""
    backfill = sub.add_parser(
        "backfill", help="Run a job once for each slot of its schedule in a past range."
    )
    backfill.add_argument("name", metavar="NAME")
    backfill.add_argument(
        "--from", dest="start", required=True, help="ISO 8601 date and time: the first slot."
    )
    backfill.add_argument(
        "--to", dest="end", required=True, help="ISO 8601 date and time, not included."
    )
    backfill.add_argument(
        "--overlap",
        choices=Backfill.Overlap.values,
        default=Backfill.Overlap.BUFFER_ALL,
        help="While another run is in flight: wait for it (buffer_all, the default) or "
        "skip the slot (skip).",
    )
    backfill.add_argument(
        "--again", action="store_true", help="Run the slots that had a successful run too."
    )


class Command(BaseCommand):
    help = "List, run and watch the scheduled jobs of django_cron."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("list", help="Show every job, its schedule, next and last run.")
        run = sub.add_parser("run", help="Run what is due once, then exit.")
        run.add_argument("names", nargs="*", metavar="NAME", help="Only these jobs.")
        run.add_argument("--force", action="store_true", help="Run the named jobs now.")
        sub.add_parser(
            "status", help="Exit 0 if every enabled job is healthy, 1 naming those that are not."
        )
        worker = sub.add_parser("worker", help="Run due jobs until SIGTERM or SIGINT.")
        worker.add_argument("names", nargs="*", metavar="NAME", help="Only these jobs.")
        worker.add_argument(
            "--threads",
            type=_positive,
            default=1,
            metavar="N",
            help="Run up to N due jobs at a time, each in a thread of its own (default 1).",
        )
        nxt = sub.add_parser("next", help="Print the next run times of a job.")
        nxt.add_argument("name", metavar="NAME")
        nxt.add_argument("--after", help="ISO 8601 date and time (default: now).")
        nxt.add_argument("--count", type=int, default=1)
        _add_backfill(sub)
        key = sub.add_parser("key", help="Create, list and revoke operator keys for the API.")
        key_actions = key.add_subparsers(dest="key_action", required=True, metavar="KEY_ACTION")
        create = key_actions.add_parser("create", help="Make a key and print it, once.")
        create.add_argument("key_name", metavar="NAME")
        create.add_argument(
            "--scope",
            required=True,
            metavar="SCOPES",
            help=f"Comma-separated, of {', '.join(keys.SCOPES)}.",
        )
        key_actions.add_parser("list", help="Name, scopes, created, last used, revoked.")
        revoke = key_actions.add_parser("revoke", help="Revoke a key: it is refused from now on.")
        revoke.add_argument("key_name", metavar="NAME")
        for action in [*sub.choices.values(), *key_actions.choices.values()]:
            _add_common_options(action)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"handle_{action}")(**options)
        except DatabaseError as exc:
            raise CommandError(str(diagnose(exc))) from exc

    def _known(self, names):
        unknown = [name for name in names if name not in registry]
        if unknown:
            raise CommandError(f"Unknown job: {', '.join(unknown)}. See 'cron list'.")

    def handle_list(self, **options):
        for job in overview():
            self.stdout.write("\n".join(_job_lines(job)))
        for once in one_offs():
            lines = [
                printable(once["name"]),
                f"    runs once at {_when(datetime.fromisoformat(once['at']))}: {once['state']}",
            ]
            if once["author"]:
                lines.append(f"    made by:  {printable(once['author'])}")
            if once["args"] or once["kwargs"]:
                lines.append(f"    args:     {printable(_arguments(once))}")
            if once["last_error"]:
                lines.append(f"    error:    {_line(once['last_error'])}")
            self.stdout.write("\n".join(lines))

    def _say(self, text, verbosity, level=1):
        if verbosity >= level:
            self.stdout.write(text)
            # Piped to a log or a container's output, a line must not wait in a buffer.
            self.stdout.flush()

    def handle_run(self, names, force, verbosity, **options):
        self._known(names)
        if force and not names:
            raise CommandError("--force needs the names of the jobs to run.")
        actor = audit.command_line_actor()
        if force:
            for name in names:
                audit.record(actor, VIA, "run", name)
        result = run_due(
            names or None,
            force=force,
            forced_by=actor if force else "",
            on_run=lambda run: self._say(printable(run.summary), verbosity),
        )
        if not result.runs:
            self._say("Nothing was due.", verbosity)
        self._report_pass(result, verbosity)
        # A failed run fails the command, so that OS cron or a Kubernetes CronJob
        # notices; call_command() callers get the CommandError to catch.
        failed = [run for run in result.runs if run.status != JobRun.Status.OK]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(result.runs)} runs did not succeed: "
                + ", ".join(f"{printable(run.job.name)} ({run.status})" for run in failed)
            )

    def _report_pass(self, result, verbosity):
        """With -v 2: what was looked at, what was not run and why, and what comes next."""
        self._say(f"Checked {result.checked} jobs, ran {len(result.runs)}.", verbosity, 2)
        for name, why in result.skipped:
            self._say(printable(f"Skipped {name}: {why}"), verbosity, 2)
        if result.next_due is not None:
            self._say(f"Next due at {_when(result.next_due)}.", verbosity, 2)

    def handle_status(self, verbosity, **options):
        jobs = overview()
        bad = [job for job in jobs if not is_healthy(job.health)]
        for job in bad:
            detail = ""
            if job.health == FAILING:
                detail = job.state.last_error
            elif job.health == BROKEN:
                detail = job.definition.problem
            self.stderr.write(printable(f"{job.name}: {job.health} {detail}".rstrip()))
        if bad:
            raise CommandError(
                f"{len(bad)} of {len(jobs)} jobs are not healthy: "
                + ", ".join(f"{job.name} ({job.health})" for job in bad)
            )
        self._say(f"{len(jobs)} jobs, all healthy.", verbosity)
        if verbosity >= 2:
            for job in jobs:
                self.stdout.write(f"{job.name}: {job.health}")

    def handle_worker(self, names, threads, verbosity, **options):
        self._known(names)
        try:
            pending = pending_migrations()
        except DatabaseError:
            # Down at start, as when the database's container still boots: the
            # loop waits an outage out.
            pending = []
        if pending:
            # The loop would log this every interval until someone migrates.
            raise CommandError(str(NotMigrated(conf.database(), pending)))

        def on_run(run):
            when = _when(run.finished_at or timezone.now())
            self._say(f"[{when}] {printable(run.summary)}", verbosity)

        def on_pass(result, wait):
            self._report_pass(result, verbosity)
            self._say(f"Sleeping {wait:.1f}s.", verbosity, 2)

        count = len(names) if names else len(registry)
        at_a_time = f", {threads} at a time" if threads > 1 else ""
        self._say(
            f"cron worker: {count} jobs{at_a_time}, one line per run. Stop with Ctrl-C.", verbosity
        )
        worker = Worker(names or None, on_run=on_run, on_pass=on_pass, threads=threads)
        worker.install_signal_handlers()
        worker.run_forever()

    def handle_next(self, name, after, count, **options):
        """
        Print the job's next runs, one a line: in its time zone, then in the
        site's. What would skip a slot (a pause, blackout windows, ``times``,
        an end date) is applied; the schedule in words goes to stderr.
        """
        self._known([name])
        if not 1 <= count <= NEXT_LIMIT:
            raise CommandError(f"--count: give a number from 1 to {NEXT_LIMIT}.")
        # A schedule replaced in the database is the one that counts.
        state = JobState.objects.using(conf.database()).filter(name=name).first()
        definition = (definition_for(state) if state else None) or registry.get(name)
        try:
            definition.schedule.describe()
        except ValueError as exc:
            raise CommandError(f"{name}: {exc}") from exc
        job = JobOverview(definition, state, health(definition, state, timezone.now()))
        zone, site = ZoneInfo(definition.timezone), timezone.get_default_timezone()
        moment = aware(timezone.now())
        if after:
            try:
                moment = datetime.fromisoformat(after)
            except ValueError as exc:
                raise CommandError(f"--after: {exc}") from exc
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=zone)
        self.stderr.write(
            f"{name}: {job.schedule_text}. Each run in {zone.key}, then in {site.key} (TIME_ZONE)."
        )
        if job.health in (PAUSED, FINISHED, BROKEN):
            self.stderr.write(f"{name} is {job.health}: no run comes due.")
        for slot in job.upcoming(count, after=moment):
            self.stdout.write(
                f"{slot.astimezone(zone).isoformat()}  {slot.astimezone(site).isoformat()}"
            )

    def handle_backfill(self, name, start, end, overlap, again, verbosity, **options):
        """Run the job for each slot in the range, oldest first; a line per slot."""
        self._known([name])
        zone = ZoneInfo(registry.get(name).timezone)
        moments = {}
        for option, value in (("--from", start), ("--to", end)):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise CommandError(f"{option}: {exc}") from exc
            moments[option] = moment.replace(tzinfo=zone) if timezone.is_naive(moment) else moment
        actor = audit.command_line_actor()
        try:
            backfill = backfills.create(
                name,
                moments["--from"],
                moments["--to"],
                overlap,
                again,
                requested_by=actor,
                then=lambda made: audit.record(
                    actor, VIA, "backfill", name, after=backfills.shown(made)
                ),
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self._say(
            f"Backfill #{backfill.pk}: {backfill.total} slots of {name}, oldest first.", verbosity
        )
        progress = backfills.run(
            backfill,
            on_run=lambda run: self._say(
                printable(f"{_slot(run.scheduled_for, zone)} {run.summary}"), verbosity
            ),
            on_pass=lambda slot, why: self._say(
                f"{_slot(slot, zone)} {name}: not run, {_why(why)}", verbosity
            ),
        )
        failed = [run for run in progress.runs if run.status != JobRun.Status.OK]
        self._say(
            f"Ran {len(progress.runs)} of {backfill.total} slots; "
            f"{len(progress.passed)} not run; {len(failed)} did not succeed.",
            verbosity,
        )
        if failed:
            raise CommandError(f"{len(failed)} of {len(progress.runs)} runs did not succeed.")

    # Operator keys -----------------------------------------------------------------

    def handle_key(self, key_action, **options):
        getattr(self, f"handle_key_{key_action}")(**options)

    def handle_key_create(self, key_name, scope, **options):
        actor = audit.command_line_actor()
        try:
            with transaction.atomic(using=conf.database()):
                row, key = keys.create(key_name, scope, created_by=actor)
                audit.record(actor, VIA, "create key", note=f"{row.name} ({row.scopes})")
        except keys.BadKey as exc:
            raise CommandError(f"{exc}. Scopes: {', '.join(keys.SCOPES)}.") from exc
        self.stdout.write(key)
        self.stderr.write(
            f"Operator key {row.name!r} with the scopes {row.scopes}. This is the only time "
            "it is shown: only its digest is stored. Send it as Authorization: Bearer <key>."
        )

    def handle_key_list(self, **options):
        rows = OperatorKey.objects.using(conf.database())
        if not rows:
            self.stdout.write("No operator keys. Make one with: cron key create NAME --scope read")
        for row in rows:
            state = f"revoked {_when(row.revoked_at)}" if row.revoked_at else "valid"
            self.stdout.write(
                "\n".join(
                    [
                        printable(row.name),
                        f"    scopes:    {row.scopes}",
                        f"    created:   {_when(row.created_at)} by {printable(row.created_by)}",
                        f"    last used: {_when(row.last_used_at)}",
                        f"    state:     {state}",
                    ]
                )
            )

    def handle_key_revoke(self, key_name, **options):
        actor = audit.command_line_actor()
        with transaction.atomic(using=conf.database()):
            row = keys.revoke(key_name)
            if row is not None:
                audit.record(actor, VIA, "revoke key", note=row.name)
        if row is None:
            raise CommandError(f"No valid operator key is named {key_name!r}. See 'cron key list'.")
        self.stdout.write(f"Revoked the operator key {row.name!r}.")


def _slot(slot, zone) -> str:
    return aware(slot).astimezone(zone).isoformat()


def _why(why: str) -> str:
    if why == "busy":
        return "another run was in flight (--overlap skip)"
    return "it had a successful run (--again runs it again)"


def _job_lines(job) -> list:
    """The lines of ``cron list`` about one job."""
    state = job.state
    schedule = f"{job.schedule_text} ({job.timezone})" if job.timezone else job.schedule_text
    entry = getattr(job.definition, "entry", None)
    if entry is not None and entry.kind == JobSchedule.Kind.REPLACE:
        schedule += " (replaced in the database)"
    elif entry is not None:
        schedule += " (in the database)"
    last = "-"
    if state is not None and state.last_run_at:
        last = f"{_when(state.last_run_at)} {state.last_status}"
        if state.last_duration is not None:
            last += f" in {state.last_duration:.3f}s"
        if state.last_queue_wait is not None:
            last += f", after {state.last_queue_wait.total_seconds():.3f}s in the queue"
    lines = [
        job.name,
        f"    schedule: {schedule}",
        f"    next run: {_when(job.next_run)}",
        f"    last run: {last}",
    ]
    if state is not None and state.last_message:
        lines.append(f"    returned: {_line(state.last_message)}")
    if state is not None and state.last_error:
        lines.append(f"    error:    {_line(state.last_error)}")
    lines += [
        f"    enabled:  {'yes' if job.enabled else 'no'}",
        f"    health:   {job.health}",
    ]
    if state is not None and not state.enabled and state.paused_by:
        paused = f"by {printable(state.paused_by)} at {_when(state.paused_at)}"
        if state.pause_reason:
            paused += f": {_line(state.pause_reason)}"
        lines.append(f"    paused:   {paused}")
    skipped = skipped_text(state)
    if skipped:
        lines.append(f"    skipped:  {skipped}")
    if entry is not None and (entry.args or entry.kwargs):
        lines.append(f"    args:     {printable(_arguments(entry))}")
    return lines
