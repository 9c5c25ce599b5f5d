"""
The runner's cost on PostgreSQL, side by side with django-apscheduler and
django-celery-beat on the same database, in one run.

Run from the repository root (about four minutes on 2 cores), in a
virtualenv of its own: the test extra's rq-scheduler brings the ``crontab``
package, whose module django-celery-beat's python-crontab would need::

    python3 -m venv .bench && .bench/bin/pip install -e . "psycopg[binary]" \
        django-redis django-celery-beat django-apscheduler packaging
    .bench/bin/python -m benchmarks.runner

It drops and creates the PostgreSQL database ``django_cron_bench`` on
127.0.0.1 (``BENCH_PG_NAME`` names another) and needs Redis on 127.0.0.1:6379
for celery-beat's broker. Each measure is the fastest of several calls (noise
only adds time), the sides alternated round by round; the statements counted
are those that do work (not BEGIN or COMMIT), in a call of their own.

(1) The idle due check, nothing due, with 10 and 10,000 registered jobs:
    ``run_due()`` against django-apscheduler's ``get_due_jobs()`` plus
    ``get_next_run_time()`` and django-celery-beat's ``tick()``, each peer
    holding as many jobs.
(2) One trivial run: a pass that runs one do-nothing job, against
    APScheduler's ``_process_jobs()`` running one and beat's tick that sends
    one plus the ``sync()`` that records it. Then 1,000 jobs due at once, run
    by one pass.
(3) The status and ping summaries with 10,000 jobs, counted in SQL, against
    the same summary counted from every job's row.
(4) With CONN_MAX_AGE = 0: connections opened by a pass of 10 jobs.
(5) ``cron worker --threads``: 8 due jobs of 0.2 s each, in 1 and 4 threads.
(6) Memory: a web process's RSS after 10,000 job runs from its traffic.
"""

import argparse
import os
import resource
import sys
import time

from benchmarks import common

ROUNDS = 11
MANY = 10_000
FEW = 10


def setup(peers: bool = True) -> str:
    """Create the database afresh, set up Django (with the peers) and migrate."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    os.environ["BENCH_DATABASE"] = "postgresql"
    os.environ["BENCH_PEERS"] = "1" if peers else "0"
    os.environ["BENCH_JOBS"] = "0"  # this script registers its own
    name = os.environ.setdefault("BENCH_PG_NAME", "django_cron_bench")
    import psycopg
    from psycopg import sql

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return name


def noop():
    """The do-nothing job."""


def sleeper():
    time.sleep(0.2)


def register(n: int, target=noop, prefix="bench.job", every=3600) -> list:
    """Make the registry hold exactly ``n`` jobs; return their names."""
    from django_cron import register as add
    from django_cron.registry import cronScheduler

    cronScheduler.clear()
    names = [f"{prefix}{i}" for i in range(n)]
    for name in names:
        add(target, name=name, every=every)
    return names


def make_due(names) -> None:
    from django.utils import timezone

    from django_cron.models import JobState

    past = timezone.now() - common_second()
    JobState.objects.filter(name__in=names).update(next_run_at=past)


def common_second():
    from datetime import timedelta

    return timedelta(seconds=1)


def analyze() -> None:
    """
    Vacuum and analyze the database after filling it, as autovacuum does on
    its own within a minute of a bulk change. Until then, the planner guesses
    and may read every row where an index would do, and autovacuum working
    meanwhile slows whatever is measured; ours and the peers' alike.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def idle_check() -> None:
    from django_cron.runner import run_due

    result = run_due()
    assert not result.runs, "a job ran in an idle check"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def idle(results) -> None:
    """(1): our idle check and the peers', 10 and 10,000 jobs each."""
    from benchmarks import peers
    from django_cron.runner import run_due

    print("\n(1) Idle due check, nothing due, fastest of the rounds")
    for n in (FEW, MANY):
        register(n)
        run_due()  # the first sight: the state rows are made here, once per process
        peers.fill_apscheduler(n)
        peers.fill_celery_beat(n)
        analyze()
        best = {"ours": [], "apscheduler": [], "celery-beat": []}
        load = None
        for _ in range(ROUNDS):  # each side in turn, alternated round by round
            # Five calls each: the first may reconnect (the peers' shutdown closes
            # the connection); the peers' functions warm up the same way.
            best["ours"].append(common.timed(idle_check, 5))
            best["apscheduler"].append(peers.apscheduler_idle(5))
            tick, load_ms, queries = peers.celery_beat_tick(5)
            best["celery-beat"].append((tick, queries))
            load = load_ms if load is None else min(load, load_ms)
        row = {side: (min(t for t, _ in v), v[-1][1]) for side, v in best.items()}
        results[n] = row
        print(f"  {n:>6,} jobs:", end="")
        for side, (ms, queries) in row.items():
            print(f"  {side} {ms:7.2f} ms, {queries} statements;", end="")
        print(f"  celery-beat's schedule load {load:.0f} ms")
    ours_few, ours_many = results[FEW]["ours"][0], results[MANY]["ours"][0]
    aps_many = results[MANY]["apscheduler"][0]
    beat_many = results[MANY]["celery-beat"][0]
    print(
        f"  ours at {MANY:,} / ours at {FEW}: {ratio(ours_many, ours_few)} "
        f"{common.goal(1.5, higher_is_better=False)}"
    )
    print(
        f"  ours / django-apscheduler at {MANY:,}: {ratio(ours_many, aps_many)} "
        f"{common.goal(1.0, higher_is_better=False)}; at {FEW}: "
        f"{ratio(ours_few, results[FEW]['apscheduler'][0])}"
    )
    print(
        f"  ours / django-celery-beat at {MANY:,}: {ratio(ours_many, beat_many)}; at {FEW}: "
        f"{ratio(ours_few, results[FEW]['celery-beat'][0])}"
    )
    print(
        f"  statements of our idle check: {results[FEW]['ours'][1]} at {FEW}, "
        f"{results[MANY]['ours'][1]} at {MANY:,} {common.goal(3, higher_is_better=False)}"
    )


def one_run() -> None:
    """(2): one trivial run, ours and the peers'; then 1,000 at once."""
    from benchmarks import peers
    from django_cron.runner import run_due

    print("\n(2) One trivial run, a whole pass that runs it, fastest of the rounds")
    (name,) = register(1)
    run_due()
    analyze()

    def ours():
        (run,) = run_due().runs
        assert run.status == "ok", run.summary

    rows = {"ours": [], "apscheduler": [], "celery-beat": []}
    for _ in range(ROUNDS):
        rows["ours"].append(common.timed(ours, 3, prepare=lambda: make_due([name])))
        rows["apscheduler"].append(peers.apscheduler_run(1))
        rows["celery-beat"].append(peers.celery_beat_run(1))
    best = {side: (min(t for t, _ in v), v[-1][1]) for side, v in rows.items()}
    idle_statements = common.timed(idle_check, 1)[1]
    for side, (ms, statements) in best.items():
        print(f"  {side:<12} {ms:6.2f} ms, {statements} statements")
    ours_ms, ours_statements = best["ours"]
    print(
        f"  statements for the run itself (the pass less an idle one): "
        f"{ours_statements - idle_statements} {common.goal(4, higher_is_better=False)}"
    )
    for peer in ("apscheduler", "celery-beat"):
        print(
            f"  ours / django-{peer}: {ratio(ours_ms, best[peer][0])} "
            f"{common.goal(1.0, higher_is_better=False)}"
        )

    names = register(1000)
    run_due()
    analyze()
    passes = []
    for _ in range(3):
        make_due(names)
        start = time.perf_counter()
        result = run_due()
        passes.append(time.perf_counter() - start)
        assert len(result.runs) == 1000, len(result.runs)
    print(
        f"  1,000 trivial jobs due at once, one pass: {min(passes):.2f} s, fastest of 3 "
        f"({', '.join(f'{p:.2f}' for p in passes)}) {common.goal(3, higher_is_better=False)}"
    )


def summaries() -> None:
    """(3): the ping and status summaries with 10,000 jobs."""
    from collections import Counter

    from django.test import Client
    from django.utils import timezone

    from django_cron import health
    from django_cron.runner import run_due
    from django_cron.trigger import trigger

    print(f"\n(3) Status and ping summaries with {MANY:,} jobs")
    register(MANY)
    run_due()
    analyze()

    def from_rows():
        # What the endpoints did before: every job's row read and judged in Python.
        Counter(job.health for job in health.overview(timezone.now()))

    client = Client()
    trigger.next_check = time.time() + 3600  # no due check behind the requests
    sides = {
        "counted in SQL": lambda: health.counts(),
        "counted from every row": from_rows,
        "GET /cron/status/": lambda: client.get("/cron/status/"),
        "GET /cron/ping/<key>/": lambda: client.get("/cron/ping/bench-ping-key/"),
    }
    times = {label: [] for label in sides}
    for _ in range(ROUNDS):
        for label, fn in sides.items():
            times[label].append(common.timed(fn, 1))
    for label, values in times.items():
        goal = common.goal(20, higher_is_better=False) if label != "counted from every row" else ""
        ms = min(t for t, _ in values)
        print(f"  {label:<24} {ms:7.2f} ms, {values[-1][1]} statements {goal}")
    sql = min(t for t, _ in times["counted in SQL"])
    rows = min(t for t, _ in times["counted from every row"])
    print(f"  in SQL / from every row: {ratio(sql, rows)}")
    # The ping's own due check runs after the response, as in production.


def connections_per_pass() -> None:
    """(4): connections a pass of 10 jobs opens with CONN_MAX_AGE = 0."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    from django_cron.runner import run_due

    print("\n(4) CONN_MAX_AGE = 0: connections a pass opens")
    names = register(FEW)
    run_due()
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 0
    connection_created.connect(count)
    try:
        make_due(names)
        connection.close()
        opened.clear()
        result = run_due()
    finally:
        connection_created.disconnect(count)
        connection.settings_dict["CONN_MAX_AGE"] = 600
    print(
        f"  a pass that ran {len(result.runs)} jobs opened {len(opened)} connection(s) "
        f"(goal 1; one per job before)"
    )


def threads() -> None:
    """(5): ``cron worker --threads``."""
    from django_cron.runner import run_due

    print("\n(5) 8 due jobs of 0.2 s each, one pass")
    names = register(8, target=sleeper)
    run_due()
    seconds = {}
    for n in (1, 4, 1, 4):
        make_due(names)
        start = time.perf_counter()
        result = run_due(threads=n)
        elapsed = time.perf_counter() - start
        assert len(result.runs) == 8, len(result.runs)
        seconds[n] = min(seconds.get(n, elapsed), elapsed)
    print(
        f"  1 thread {seconds[1]:.2f} s, 4 threads {seconds[4]:.2f} s: "
        f"ratio {ratio(seconds[4], seconds[1])} (ideal 0.25)"
    )


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(runs: int) -> None:
    """(6): RSS of a web process whose traffic runs ``runs`` jobs, in a process of its own."""
    import subprocess

    print(f"\n(6) Memory: {runs:,} job runs from traffic (CronMiddleware, test client)")
    # A fresh process: memory freed by the phases above would hide growth here.
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.runner", "--memory-child", str(runs)],
        cwd=common.ROOT,
        env={**os.environ, "PYTHONPATH": str(common.ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    print(child.stdout, end="")


def memory_child(runs: int) -> None:
    import gc

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()  # the parent made the database
    from django.test import Client
    from django.test.utils import override_settings

    from django_cron.models import JobRun
    from django_cron.runner import run_due
    from django_cron.trigger import trigger

    names = register(100)
    run_due()
    client = Client()

    def traffic(n_runs):
        done = 0
        while done < n_runs:
            make_due(names)
            trigger.next_check = 0.0
            before = JobRun.objects.count()
            client.get("/")
            done += JobRun.objects.count() - before
        return done

    with override_settings(DJANGO_CRON={"PING_KEY": "bench-ping-key", "BUDGET": 600}):
        traffic(2_000)  # warm-up: caches, the first connections
        gc.collect()
        before = rss_mb()
        done = traffic(runs)
        gc.collect()
        after = rss_mb()
    print(
        f"  RSS {before:.1f} MB after 2,000 runs, {after:.1f} MB after {done:,} more: "
        f"{after - before:+.2f} MB {common.goal(2, higher_is_better=False)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-runs", type=int, default=10_000)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)
    name = setup()
    common.header(f"The runner on PostgreSQL (database {name}) beside its peers")
    results = {}
    idle(results)
    one_run()
    summaries()
    connections_per_pass()
    threads()
    memory(args.memory_runs)


if __name__ == "__main__":
    sys.exit(main())
