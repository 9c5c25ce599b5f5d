"""
In-process benchmarks of CronMiddleware with nothing due: (a1) and (b).

Run from the repository root (under a minute on 2 cores):

    .venv/bin/python -m benchmarks.inprocess

(a1) CronMiddleware versus the same bare Django app (no middleware at all), on
a view that returns HttpResponse("ok"). (b) 10,000 registered jobs versus one,
the middleware on in both. Each is measured two ways:

1. the middleware called directly on a prepared request, timeit, the minimum
   of the repeats, minus the same for the do-nothing view it wraps: the
   nanoseconds it adds to a request; and (1b, for (a1)) the handler's whole
   middleware chain called the same way, without middleware, with a
   do-nothing middleware and with CronMiddleware, which adds Django's own
   wrapper per middleware;
2. whole test-client requests in many small blocks alternated A B A B, the
   fastest block of each side compared (noise only ever adds time). A third
   side identical to the first (a second bare client; a second one-job
   process) is the control: its ratio is what no change at all measures.

(b) needs two registries, so it runs in child processes, one per side, which
the parent alternates block by block.
"""

import os
import subprocess
import sys
import time
import timeit

from benchmarks import common

BLOCK = 300  # requests per block
# A/B rounds of blocks: twice the 40 of the design notes, since the comparison
# needs one quiet block per side and a round here takes well under a second.
PAIRS = 80
NUMBER = 100_000  # calls per timeit repeat
REPEATS = 25
MANY = 10_000
BARE = []
CRON = ["django_cron.middleware.CronMiddleware"]
PASS = ["benchmarks.middleware.PassThrough"]


def prime() -> float:
    """Let the runner see the registered jobs once; return seconds to the next check."""
    from django_cron.trigger import trigger

    # Ungated: the gate would let only one of the processes of this script in.
    trigger.check(gated=False)
    remaining = trigger.next_check - time.time()
    if remaining < 120:
        sys.exit(f"The next due check is {remaining:.0f}s away: something is due or failing.")
    return remaining


def client_for(middleware):
    """A test client whose handler has ``middleware`` and nothing else."""
    from django.test import Client, override_settings

    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        # The handler builds its middleware chain on its first request.
        client.get("/")
    return client


def wrapped(client) -> str:
    """What the client's middleware chain starts with, to show the two sides differ."""
    first = client.handler._middleware_chain.__wrapped__
    return getattr(first, "__name__", type(first).__name__)


def run_block(client, n=BLOCK) -> float:
    """Seconds per request over ``n`` requests."""
    get = client.get
    start = time.perf_counter()
    for _ in range(n):
        get("/")
    return (time.perf_counter() - start) / n


def direct() -> tuple:
    """(ns per call of CronMiddleware, ns per call of the view it wraps), nothing due."""
    from django.http import HttpResponse
    from django.test import RequestFactory

    from django_cron.middleware import CronMiddleware

    request = RequestFactory().get("/")
    response = HttpResponse("ok")

    def view(request):
        return response

    names = {"middleware": CronMiddleware(view), "view": view, "request": request}
    with_mw = timeit.Timer("middleware(request)", globals=names)
    without = timeit.Timer("view(request)", globals=names)
    best_mw = best_view = float("inf")
    for _ in range(REPEATS):  # alternated, so that a slow spell hits both
        best_mw = min(best_mw, with_mw.timeit(NUMBER))
        best_view = min(best_view, without.timeit(NUMBER))
    return best_mw / NUMBER * 1e9, best_view / NUMBER * 1e9


def chains(clients) -> dict:
    """ns per call of each client's middleware chain (Django's wrappers, URL resolving, view)."""
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    timers = {
        label: timeit.Timer(
            "chain(request)", globals={"chain": c.handler._middleware_chain, "request": request}
        )
        for label, c in clients.items()
    }
    # A chain call takes ~13 us: short repeats, many of them, so that each
    # side gets some that no other process interrupted.
    number, best = 2_000, dict.fromkeys(timers, float("inf"))
    for _ in range(REPEATS * 3):
        for label, timer in timers.items():
            best[label] = min(best[label], timer.timeit(number))
    return {label: t / number * 1e9 for label, t in best.items()}


def check_ms(times=5) -> float:
    """Milliseconds of the fastest of ``times`` due checks with nothing due."""
    from django_cron.trigger import trigger

    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        trigger.check(gated=False)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def alternate(runners) -> dict:
    """Run one block of each runner in turn, PAIRS times; return the seconds per request."""
    for run in runners.values():  # warm-up, discarded
        run()
    times = {label: [] for label in runners}
    for _ in range(PAIRS):
        for label, run in runners.items():
            times[label].append(run())
    return times


def report_blocks(times, base, other, goal):
    print(f"  method 2: whole test-client requests, {PAIRS} rounds of one block of {BLOCK} each")
    for label, values in times.items():
        print(
            f"    {label:<22} fastest block {min(values) * 1e6:7.1f} us/request, "
            f"median {common.median(values) * 1e6:7.1f}"
        )
    a, b, half = times[base], times[other], len(times[base]) // 2
    best = min(a) / min(b)
    med = common.median(a) / common.median(b)
    halves = f"{min(a[:half]) / min(b[:half]):.4f} / {min(a[half:]) / min(b[half:]):.4f}"
    print(f"    throughput ratio {other} / {base}: best-of {best:.4f} {goal}")
    # Two halves that disagree mean a noisy run: read the ratio with that spread.
    print(f"      best-of in the first / second half of the rounds: {halves}")
    # Each round's two blocks ran next to each other: a slow spell longer than a
    # round hits both, so the ratio within rounds cancels it.
    paired = common.median([x / y for x, y in zip(a, b, strict=True)])
    print(f"      median of the {len(a)} within-round ratios {paired:.4f}")
    print(f"      median-of-blocks {med:.4f}, which moves by several % between runs")


def report_control(times, base, control):
    floor = min(times[base]) / min(times[control])
    paired = common.median([x / y for x, y in zip(times[base], times[control], strict=True)])
    print(
        f"    control, {control} / {base}: best-of {floor:.4f}, median within rounds "
        f"{paired:.4f}: the floor, with no change at all"
    )


def main():
    path = common.setup("inprocess", fresh=True)
    common.header("In-process benchmarks of CronMiddleware, nothing due")
    print(f"  SQLite file {path}")

    away = prime()
    bare, cron = client_for(BARE), client_for(CRON)
    print(f"  next due check in {away:.0f}s; chains start with {wrapped(bare)} / {wrapped(cron)}")

    print()
    print("(a1) CronMiddleware vs the bare app, trivial view, 1 job registered")
    mw_ns, view_ns = direct()
    added = mw_ns - view_ns
    # A second bare client: two identical ones differ by about 1%, whatever
    # their handlers' objects happen to cost; that floor is printed too.
    control = client_for(BARE)
    times = alternate(
        {
            "bare (no middleware)": lambda: run_block(bare),
            "CronMiddleware": lambda: run_block(cron),
            "bare (control)": lambda: run_block(control),
        }
    )
    report_blocks(times, "bare (no middleware)", "CronMiddleware", common.goal(0.99))
    report_control(times, "bare (no middleware)", "bare (control)")
    bare_s = min(times["bare (no middleware)"])
    print(f"  method 1: the middleware called directly, min of {REPEATS} x {NUMBER:,} calls")
    print(f"    CronMiddleware(view)(request) {mw_ns:6.1f} ns, view(request) {view_ns:6.1f} ns")
    implied = bare_s / (bare_s + added * 1e-9)
    print(
        f"    added {added:.1f} ns per request = {added / (bare_s * 1e9) * 100:.3f}% of a "
        f"bare test-client request: implied ratio {implied:.5f} {common.goal(0.99)}"
    )

    ns = chains({"bare": bare, "pass": client_for(PASS), "cron": cron})
    print("  method 1b: the handler's middleware chain called directly, the same way")
    print(
        f"    no middleware {ns['bare']:.0f} ns; a do-nothing middleware adds "
        f"{ns['pass'] - ns['bare']:.0f} ns, CronMiddleware adds {ns['cron'] - ns['bare']:.0f} ns"
    )
    print(
        f"    ({ns['cron'] - ns['pass']:+.0f} ns over the do-nothing one): implied ratio "
        f"{bare_s / (bare_s + (ns['cron'] - ns['bare']) * 1e-9):.5f} {common.goal(0.99)}"
    )

    print()
    print(f"(b) {MANY:,} registered jobs vs 1, CronMiddleware on in both, one child process each")
    children = {
        "1 job": Child(1),
        f"{MANY:,} jobs": Child(MANY),
        "1 job (control)": Child(1),
    }
    try:
        compare_children(children)
    finally:
        for child in children.values():
            child.close()


def compare_children(children):
    labels = list(children)
    one, many, control = labels
    for label, child in children.items():
        print(f"    {label:<16} ready: {child.ready}")
    times = alternate(
        {label: lambda c=c: float(c.ask("block")[0]) for label, c in children.items()}
    )
    report_blocks(times, one, many, common.goal(0.98))
    report_control(times, one, control)

    added = {}
    for label, child in children.items():
        mw_ns, view_ns = (float(x) for x in child.ask("direct"))
        added[label] = mw_ns - view_ns
    print(f"  method 1: the middleware called directly in each child, min of {REPEATS} repeats")
    for label, ns in added.items():
        print(f"    {label:<16} adds {ns:6.1f} ns per request")
    extra = added[many] - added[one]
    per_request = min(times[one])
    print(
        f"    {many} add {extra:+.1f} ns over {one}: implied ratio "
        f"{per_request / (per_request + extra * 1e-9):.5f} {common.goal(0.98)}"
    )
    print("  for scale, one due check with nothing due (once per process per poll, up to 300 s):")
    for label in (one, many):
        print(f"    {label:<16} {float(children[label].ask('check')[0]):8.1f} ms")


class Child:
    """A child process with its own registry, running blocks on request."""

    def __init__(self, jobs):
        env = {**os.environ, "BENCH_JOBS": str(jobs), "PYTHONPATH": str(common.ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.inprocess", "--child"],
            cwd=common.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = " ".join(self._read())

    def ask(self, command) -> list:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> list:
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"A child process stopped (exit status {self.proc.wait()})")
        return line.split()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def child():
    """Answer the parent's commands, one line each, on stdin and stdout."""
    common.setup("inprocess", fresh=False)  # the parent migrated the file
    from django_cron.registry import cronScheduler

    away = prime()
    client = client_for(CRON)
    print(f"{len(cronScheduler)} jobs, next check in {away:.0f}s", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "block":
            print(run_block(client), flush=True)
        elif command == "direct":
            print(*direct(), flush=True)
        elif command == "check":
            print(check_ms(), flush=True)


if __name__ == "__main__":
    child() if sys.argv[1:] == ["--child"] else main()
