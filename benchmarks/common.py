"""What both benchmark scripts share: Django set-up on a SQLite file of their own, and output."""

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def db_path(name: str) -> str:
    return os.path.join(tempfile.gettempdir(), f"django_cron_bench_{name}_{os.getuid()}.sqlite3")


def setup(name: str, *, fresh: bool) -> str:
    """
    Set up Django on the SQLite file ``name``; with ``fresh``, start from an
    empty file and migrate it. Return the file's path.

    The environment, not the settings module, carries the file's path, so that
    the servers and child processes started later open the same file.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    path = os.environ["BENCH_DB"] = db_path(name)
    if fresh:
        # Job states left by an earlier run would change what is due.
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    import django

    django.setup()
    if fresh:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return path


def header(title: str) -> None:
    import django

    print(title)
    print(
        f"  Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("  Ratios come from A/B runs alternated in this one run; the goals are for reading,")
    print("  nothing passes or fails.")


def median(values) -> float:
    return statistics.median(values)


def goal(target: float, higher_is_better: bool = True) -> str:
    """The goal to read a ratio against; printed next to it, never checked."""
    return f"(goal {'>=' if higher_is_better else '<='} {target:g})"


# Transaction control: counted by CaptureQueriesContext since Django 4.2, but
# no work of its own; the query counts compare the statements that do work.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ")


def statements(captured) -> int:
    """How many of the captured queries are statements that do work."""
    return sum(1 for q in captured if not q["sql"].lstrip().upper().startswith(CONTROL))


def timed(fn, times: int, prepare=None, alias="default") -> tuple:
    """
    Call ``fn`` ``times`` times, each after ``prepare()`` if given (not timed),
    then once more counting its statements; return (fastest call in ms,
    statements). Timed calls record no queries, which would slow them.
    """
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    best = float("inf")
    for _ in range(times):
        if prepare:
            prepare()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    if prepare:
        prepare()
    with CaptureQueriesContext(connections[alias]) as ctx:
        fn()
    return best * 1e3, statements(ctx.captured_queries)
