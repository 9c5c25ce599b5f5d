"""
Benchmarks of CronMiddleware under gunicorn: (a2), (b), (c) and (d).

Run from the repository root (about three and a half minutes on 2 cores):

    apt-get install -y wrk    # the load generator of (a2), (b) and (d)
    .venv/bin/python -m benchmarks.servers

Without wrk, (a2), (b) and (d) are skipped with a message and (c) still runs.

(a2) throughput with CronMiddleware versus the bare app, nothing due, with a
     second bare server as a control;
(b)  10,000 registered jobs versus 1, the middleware on in both;
(d)  the ping endpoint versus the trivial view on the same server;
each from wrk runs of a few seconds, one per server in turn, the order rotated
each round (A B C, B C A, ...), against gunicorn servers with the same number of
sync workers; best-of and median requests/s.

(c) the client-side time until the whole body of the request that runs a 2 s
job inline has arrived, versus a bare request: the job runs from the
response's close(), after gunicorn has sent the body. Servers and client run
on separate CPUs unless --no-pin.
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks import common

MANY = 10_000
WORKERS = 2
SLEEP_EVERY = 3  # seconds between slots of the 2 s job of (c): one sample per slot
PING = "/cron/ping/bench-ping-key/"
# One-second polling: a worker that loses the gate on its first check retries a
# second later, so every worker has seen the jobs before the measurements start.
POLL = "1"


class Server:
    """A gunicorn server with sync workers on the benchmark site, configured by ``env``."""

    def __init__(self, label, workers=WORKERS, cpus=None, **env):
        self.label, self.workers = label, workers
        self.cron = env.get("BENCH_MIDDLEWARE") == "cron"
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="django_cron_bench_", suffix=".log")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={workers}",
            "--worker-class=sync",
            "--log-level=warning",
        ]
        env = {**os.environ, "PYTHONPATH": str(common.ROOT), "BENCH_POLL": POLL, **env}
        self.proc = subprocess.Popen(
            command,
            cwd=common.ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                get(self.port, "/state/")
                return
            time.sleep(0.1)
        self.log.seek(0)
        output = self.log.read().decode()[-3000:]
        self.stop()
        sys.exit(f"{self.label} did not start:\n{output}")

    def settle(self, timeout=60):
        """
        Return once every worker has done its first due check and its next is
        minutes away: from then on, nothing is due.
        """
        away = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Each answer is the state before this request's own check ran.
            state = json.loads(get(self.port, "/state/")[2])
            away[state["pid"]] = state["next_check_in"]
            if len(away) >= self.workers and all(s > 60 for s in away.values()):
                return away
            time.sleep(0.02)
        sys.exit(f"{self.label}: the workers did not settle: {away}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port, path="/", timeout=30):
    """GET ``path``; return (seconds until the whole body was read, status, body)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        # read() stops at the end of the body (chunked or Content-Length), not at
        # the connection's close, which a sync worker does only after close().
        body = response.read()
        return time.perf_counter() - start, response.status, body
    finally:
        conn.close()


def wrk(url, seconds, connections=4) -> float:
    """Requests per second that wrk measured; exit on errors, which would fake a rate."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk saw errors on {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


class Target:
    """One side of a comparison: a URL on a server, and the goal for its ratio, if any."""

    def __init__(self, label, server, path="/", goal=""):
        self.label, self.server, self.url, self.goal = label, server, server.url(path), goal


def drain(server, timeout=30):
    """
    Wait until every worker of ``server`` answers at once again: a run of slow
    requests (the ping) leaves some queued after wrk stops, which would slow the
    next run down.
    """
    deadline = time.monotonic() + timeout
    quick = 0
    while quick < 2 and time.monotonic() < deadline:
        with ThreadPoolExecutor(server.workers) as pool:
            took = list(pool.map(lambda _: get(server.port, "/state/")[0], range(server.workers)))
        quick = quick + 1 if max(took) < 0.05 else 0


def compare(title, targets, rounds, seconds):
    """
    Run wrk on each target in turn, ``rounds`` times, the order rotated each
    round so that no side always runs first; print requests/s and each ratio
    to the first target.
    """
    print()
    print(title)
    for target in targets:  # warm-up, discarded
        wrk(target.url, 1)
        drain(target.server)
    rates = {target.label: [] for target in targets}
    for n in range(rounds):
        for target in targets[n % len(targets) :] + targets[: n % len(targets)]:
            rates[target.label].append(wrk(target.url, seconds))
            drain(target.server)
    print(f"  wrk -t1 -c4, {rounds} rounds of {seconds}s runs, order rotated, requests/s:")
    for label, values in rates.items():
        runs = " ".join(f"{v:.0f}" for v in values)
        best, med = max(values), common.median(values)
        print(f"    {label:<26} best {best:7.1f}  median {med:7.1f}  ({runs})")
    base = rates[targets[0].label]
    for target in targets[1:]:
        other = rates[target.label]
        best, med = max(other) / max(base), common.median(other) / common.median(base)
        paired = common.median([y / x for x, y in zip(base, other, strict=True)])
        print(f"  ratio {target.label} / {targets[0].label}:")
        print(f"    best-of {best:.4f}  median {med:.4f}  {target.goal}")
        print(f"    median of the {rounds} within-round ratios {paired:.4f}")


def start(*servers):
    for server in servers:
        server.wait_until_up()
    for server in servers:
        if server.cron:
            away = server.settle()
            print(
                f"  {server.label:<20} workers' next due check in "
                + ", ".join(f"{s:.0f}s" for s in away.values())
            )


def throughput(args):
    """(a2), (d), then (b) once the 10,000-job server has filled the table."""
    bare = Server("bare", BENCH_MIDDLEWARE="bare")
    # A second bare server: how far two identical servers differ, the floor
    # under every ratio here.
    control = Server("bare (control)", BENCH_MIDDLEWARE="bare")
    one = Server("cron, 1 job", BENCH_MIDDLEWARE="cron")
    servers = [bare, control, one]
    print()
    print(f"gunicorn, {WORKERS} sync workers per server")
    try:
        start(*servers)
        compare(
            "(a2) CronMiddleware vs the bare app, trivial view, nothing due",
            [
                Target("bare (no middleware)", bare),
                Target("CronMiddleware", one, goal=common.goal(0.99)),
                Target("bare, control server", control),
            ],
            args.rounds,
            args.seconds,
        )
        compare(
            "(d) ping endpoint vs the trivial view, same server (middleware, 1 job), nothing due",
            [Target("trivial view", one), Target("ping", one, PING)],
            args.rounds,
            args.seconds,
        )
        # Only now: its workers' first checks put 10,000 rows in the shared table.
        many = Server(f"cron, {MANY:,} jobs", BENCH_MIDDLEWARE="cron", BENCH_JOBS=str(MANY))
        servers.append(many)
        start(many)
        compare(
            f"(b) {MANY:,} registered jobs vs 1, CronMiddleware on in both, nothing due",
            [Target("1 job", one), Target(f"{MANY:,} jobs", many, goal=common.goal(0.98))],
            args.rounds,
            args.seconds,
        )
        compare(
            f"(d) the ping with {MANY:,} jobs registered",
            [Target("trivial view", many), Target("ping", many, PING)],
            2,
            args.seconds,
        )
        compare(
            f"(d) the ping with 1 job registered and the {MANY:,} rows of the other server's "
            "jobs in the table",
            [Target("trivial view", one), Target("ping", one, PING)],
            2,
            args.seconds,
        )
    finally:
        for server in servers:
            server.stop()


def split_cpus(pin):
    """(CPUs for the servers, CPUs for this client), or (None, None) to leave them alone."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not pin or len(cpus) < 2:
        return None, None
    return set(cpus[1:]), {cpus[0]}


def due_request(args):
    """(c): the request that runs a 2 s job inline, versus a bare request."""
    from django_cron.models import JobRun, JobState

    # Client and servers on CPUs of their own, as on separate machines: right
    # after the due response the worker spends ~15 ms of CPU on the check and
    # the claim, which on a shared core would delay this process reading the
    # response it has already been sent.
    server_cpus, client_cpus = split_cpus(args.pin)
    # One worker each: the request after the job's must wait for it, which
    # tells which request ran the job.
    bare = Server("bare", workers=1, cpus=server_cpus, BENCH_MIDDLEWARE="bare", BENCH_JOBS="0")
    cron = Server(
        "cron",
        workers=1,
        cpus=server_cpus,
        BENCH_MIDDLEWARE="cron",
        BENCH_JOBS="0",
        BENCH_SLEEP_EVERY=str(SLEEP_EVERY),
    )
    all_cpus = os.sched_getaffinity(0) if client_cpus else None
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    samples = {"bare": [], "nothing due": [], "due": [], "next": []}
    sample = {}
    try:
        bare.wait_until_up()
        cron.wait_until_up()
        get(bare.port)
        # The worker's first check creates the job's state, one interval ahead,
        # and plans the next check for that moment.
        get(cron.port)
        time.sleep(0.5)
        print()
        print("(c) the request that runs a 2 s job inline vs a bare request, 1 sync worker each")
        if client_cpus:
            print(f"  servers on CPUs {sorted(server_cpus)}, this client on CPU {min(client_cpus)}")
        else:
            print("  servers and client share the CPUs")
        skipped = 0
        while len(samples["due"]) < args.samples and skipped < 3:
            due = JobState.objects.get(name="bench.sleep").next_run_at.timestamp()
            runs = JobRun.objects.count()
            # Each measured request comes 0.2 s after another to the same server,
            # so that all three sides start from the same idle time. The due
            # request is the first after the slot: the worker answers it, then
            # runs the job from close().
            for at, port, key in (
                (due - 0.8, bare.port, None),
                (due - 0.6, bare.port, "bare"),
                (due - 0.35, cron.port, None),
                (due - 0.15, cron.port, "nothing due"),
                (due + 0.05, cron.port, "due"),
            ):
                wait_until(at)
                took = get(port)[0]
                if key:
                    sample[key] = took
            sample["next"] = get(cron.port)[0]  # waits in the backlog while the job runs
            ran = JobRun.objects.count() - runs
            if ran != 1 or sample["next"] < 1.5:
                # The due request was not the one that ran the job.
                skipped += 1
                started = [
                    f"{r.started_at.timestamp() - due:+.3f}s"
                    for r in JobRun.objects.order_by("-pk")[:ran]
                ]
                timings = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in sample.items())
                print(f"  skipped a slot: runs started at {started} from the slot; {timings}")
                continue
            for key, value in sample.items():
                samples[key].append(value)
    finally:
        bare.stop()
        cron.stop()
        if all_cpus:
            os.sched_setaffinity(0, all_cpus)
    if not samples["due"]:
        print("  no request ran the job: no sample")
        return
    print(f"  {len(samples['due'])} samples, {skipped} skipped; client-side ms to the whole body:")
    for key, label in (
        ("bare", "bare server"),
        ("nothing due", "middleware, nothing due"),
        ("due", "due request (runs the job)"),
    ):
        values = samples[key]
        runs = " ".join(f"{v * 1e3:.2f}" for v in values)
        med, best = common.median(values) * 1e3, min(values) * 1e3
        print(f"    {label:<28} median {med:6.2f}  min {best:6.2f}  ({runs})")
    med = common.median(samples["due"]) / common.median(samples["bare"])
    best = min(samples["due"]) / min(samples["bare"])
    goal = common.goal(1.05, higher_is_better=False)
    print(f"  latency ratio due / bare: median {med:.3f}  min {best:.3f}  {goal}")
    med = common.median(samples["due"]) / common.median(samples["nothing due"])
    best = min(samples["due"]) / min(samples["nothing due"])
    print(f"  latency ratio due / nothing due, same server: median {med:.3f}  min {best:.3f}")
    # The two requests of one slot ran 0.2 s apart: their ratio cancels slow drifts.
    paired = common.median(
        [d / n for d, n in zip(samples["due"], samples["nothing due"], strict=True)]
    )
    print(f"    median of the within-slot ratios {paired:.3f}")
    print(
        f"  work of the due request before its response, in-process: {due_work_us():.1f} us "
        "more than with nothing due"
    )
    print(
        f"  the next request to that worker waited {common.median(samples['next']):.2f}s "
        "(median): a sync worker is busy while the job runs"
    )


def due_work_us() -> float:
    """
    Microseconds the due request spends in the middleware before its response
    is returned (claim() and after(), the job excluded), over a request with
    nothing due: timeit in this process, the minimum of the repeats.
    """
    import timeit

    from django.http import HttpResponse
    from django.test import RequestFactory

    from django_cron.middleware import CronMiddleware
    from django_cron.trigger import trigger

    request = RequestFactory().get("/")
    middleware = CronMiddleware(lambda request: HttpResponse("ok"))

    def due():
        trigger.next_check = 0.0  # this call claims the check and adds the closer
        return middleware(request)  # never closed: the job would run from close()

    def idle():
        trigger.next_check = float("inf")
        return middleware(request)

    number, best = 10_000, {due: float("inf"), idle: float("inf")}
    for _ in range(15):
        for function in best:
            best[function] = min(best[function], timeit.timeit(function, number=number))
    return (best[due] - best[idle]) / number * 1e6


def wait_until(timestamp):
    time.sleep(max(0.0, timestamp - time.time()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="wrk rounds per comparison")
    parser.add_argument("--seconds", type=int, default=2, help="seconds per wrk run")
    parser.add_argument("--samples", type=int, default=15, help="due requests in (c)")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="in (c), let servers and client share the CPUs",
    )
    args = parser.parse_args()
    path = common.setup("servers", fresh=True)
    common.header("CronMiddleware under gunicorn")
    print(f"  SQLite file {path}, shared by the servers")
    if shutil.which("wrk"):
        throughput(args)
    else:
        print()
        print("wrk is not installed: (a2), (b) and (d) skipped. Install it with")
        print("    apt-get install -y wrk      (Debian/Ubuntu; brew install wrk on macOS)")
    due_request(args)


if __name__ == "__main__":
    main()
