"""
Claims per second on PostgreSQL: the measured input of the capacity model in
docs/scaling.rst.

Run from the repository root (about three minutes on 2 cores):

    .venv/bin/python -m benchmarks.claims

It drops and creates the PostgreSQL database ``django_cron_bench`` on
127.0.0.1 (``BENCH_PG_NAME`` names another). 1,000 do-nothing jobs are made
due at once, then taken by 1, 2 and 4 processes that race for them, each
running passes until one claims nothing; the rate is runs recorded per second
of wall time, from the moment the processes start racing to the last one's
end. The configurations are alternated round by round and the best round of
each kept (noise only ever slows a round).

(1) Inline: claim, call and record each run, in the racing processes.
(2) Queued, the web side: claim each slot and hand it to a task backend (the
    dummy backend, in memory: this measures the claim, not a broker).
(3) Queued, the worker side: take each queued run and record its outcome, as
    ``run_claimed`` does in a task worker.
(4) 100,000 registered jobs (``--many``): the first pass of a process, which
    makes their state rows; the first pass of a new process once the rows
    exist, which reads them all (each process does once, and again hourly);
    an idle pass; and the memory the registry takes.
"""

import argparse
import multiprocessing
import resource
import sys
import time

from benchmarks import common
from benchmarks.runner import analyze, make_due, noop, setup

JOBS = 1_000
ROUNDS = 3


def register(n: int) -> dict:
    """Register ``n`` inline and ``n`` queued do-nothing jobs; return their names by kind."""
    from django_cron import register as add
    from django_cron.registry import cronScheduler

    cronScheduler.clear()
    names = {}
    for kind, enqueue in (("inline", False), ("queued", True)):
        names[kind] = [f"bench.{kind}{i}" for i in range(n)]
        for name in names[kind]:
            add(noop, name=name, every=3600, enqueue=enqueue)
    return names


def _race(work, names, processes: int) -> float:
    """Run ``work(names, index, processes)`` in that many processes at once; return seconds."""
    from django.db import connections

    connections.close_all()  # a forked child must not share the parent's connection
    context = multiprocessing.get_context("fork")
    ready, go = context.Barrier(processes + 1), context.Event()

    def child(index):
        ready.wait()
        go.wait()
        work(names, index, processes)
        connections.close_all()

    children = [context.Process(target=child, args=(i,)) for i in range(processes)]
    for process in children:
        process.start()
    ready.wait()  # every child forked and waiting: start the clock
    start = time.perf_counter()
    go.set()
    for process in children:
        process.join()
        assert process.exitcode == 0, f"a racing process failed ({process.exitcode})"
    return time.perf_counter() - start


def _run_all(names, index, processes) -> None:
    """Pass after pass until one claims nothing, as a busy runner does."""
    from django_cron.runner import run_due

    while run_due(names).runs:
        pass


def _take_all(names, index, processes) -> None:
    """Take this process's share of the queued runs, as a task worker does."""
    from django_cron.models import JobRun
    from django_cron.tasks import run_queued

    queued = JobRun.objects.filter(status=JobRun.Status.QUEUED).values_list("pk", "job__name")
    for pk, name in queued:
        if pk % processes == index:
            run_queued(name, pk)


def _runs(status=None) -> int:
    from django_cron.models import JobRun

    runs = JobRun.objects.all()
    return (runs.filter(status=status) if status else runs).count()


def measure(kind: str, processes: int, names) -> float:
    """Runs per second for one configuration; every job's slot is taken exactly once."""
    from django_cron.models import JobRun, JobState

    # Queued runs of the round before hold their jobs' leases: hand them back.
    JobRun.objects.all().delete()
    JobState.objects.update(lease_owner="", lease_until=None)
    make_due(names)
    analyze()
    if kind == "worker":
        _race(_run_all, names, 1)  # the web side queues them first, untimed
        assert _runs("queued") == len(names)
        seconds = _race(_take_all, names, processes)
        assert _runs("ok") == len(names), _runs("ok")
    else:
        seconds = _race(_run_all, names, processes)
        assert _runs() == len(names), f"{_runs()} runs for {len(names)} slots"
    return len(names) / seconds


def many(n: int) -> None:
    """(4): what ``n`` registered jobs cost a process beyond its passes."""
    from django_cron import register as add
    from django_cron.registry import cronScheduler
    from django_cron.runner import run_due
    from django_cron.runtime import states

    cronScheduler.clear()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    for i in range(n):
        add(noop, name=f"bench.many{i}", every=3600)
    registered = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    start = time.perf_counter()
    run_due()
    created = time.perf_counter() - start
    analyze()
    states.forget()  # as a new process would
    start = time.perf_counter()
    run_due()
    surveyed = time.perf_counter() - start
    idle = []
    for _ in range(11):
        start = time.perf_counter()
        assert not run_due().runs
        idle.append(time.perf_counter() - start)
    print(f"\n(4) {n:,} registered jobs, one process")
    print(f"  registering them at start-up: {registered:.2f} s, {grown:.0f} MB of memory")
    print(f"  the first pass ever, which makes their state rows: {created:.2f} s")
    print(f"  a new process's first pass, which reads every row: {surveyed:.2f} s")
    print(f"  an idle pass after it: {min(idle) * 1000:.2f} ms, fastest of 11")


LABELS = {
    "inline": "(1) inline: claim, call, record",
    "queued": "(2) queued, web side: claim, enqueue",
    "worker": "(3) queued, worker side: take, record",
}
PROCESSES = (1, 2, 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--many", type=int, default=100_000)
    args = parser.parse_args()
    name = setup(peers=False)
    common.header(f"Claims per second on PostgreSQL (database {name})")
    from django_cron.runner import run_due

    names = register(args.jobs)
    run_due()  # the state rows
    best = {}
    for _ in range(args.rounds):
        for kind in LABELS:
            for processes in PROCESSES:
                jobs = names["inline" if kind == "inline" else "queued"]
                rate = measure(kind, processes, jobs)
                best[kind, processes] = max(best.get((kind, processes), 0), rate)
    for kind, label in LABELS.items():
        print(f"\n{label}; {args.jobs:,} jobs due at once, best of {args.rounds} rounds")
        for processes in PROCESSES:
            rate = best[kind, processes]
            line = f"  {processes} process{'es' if processes > 1 else '  '}: {rate:6.0f} runs/s"
            if processes > 1:
                line += f", {rate / best[kind, 1]:.2f}x one process"
            print(line)
    if args.many:
        many(args.many)


if __name__ == "__main__":
    sys.exit(main())
