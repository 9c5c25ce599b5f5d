"""Real servers and real faults for the tests: gunicorn, uvicorn, traffic, a TCP proxy to cut."""

import contextlib
import http.client
import signal
import socket
import subprocess
import sys
import threading
import time

from tests.conftest import ROOT, subprocess_env, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(kind: str, port: int) -> list:
    bind = f"127.0.0.1:{port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "tests.wsgi:application", "--bind", bind]
    return {
        "gunicorn-sync": [*gunicorn, "--workers", "3"],
        "gunicorn-2": [*gunicorn, "--workers", "2"],
        "gunicorn-4": [*gunicorn, "--workers", "4"],
        "gunicorn-gthread": [
            *gunicorn,
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
        ],
        "runserver": [sys.executable, "-m", "django", "runserver", bind, "--noreload"],
        "uvicorn": [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.asgi:application",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
    }[kind]


def get(port, path="/", timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def server(kind, alias, log_path, **env):
    """Run a server of ``kind`` on a free port until the block ends; yield the port."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            server_command(kind, port),
            cwd=ROOT,
            env=subprocess_env(alias, **{"DJANGO_CRON_TEST_SERVER": 1, **env}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: _answers(port), timeout=60, message=f"{kind} to listen")
            yield port
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(port):
    try:
        return get(port, timeout=2)[0] == 200
    except OSError:
        return False


def traffic(ports, seconds, concurrency=8, paths=("/",)):
    """Send requests from ``concurrency`` threads for ``seconds``; return the statuses.

    ``ports`` is one port or a list, and ``paths`` a list of paths: the threads
    share them out.
    """
    ports = ports if isinstance(ports, list) else [ports]
    statuses, deadline = [], time.monotonic() + seconds

    def client(port, path):
        while time.monotonic() < deadline:
            try:
                statuses.append(get(port, path)[0])
            except OSError as exc:
                statuses.append(repr(exc))

    threads = [
        threading.Thread(target=client, args=(ports[i % len(ports)], paths[i % len(paths)]))
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


class Proxy:
    """A TCP proxy to a real server; cut() drops every connection and refuses new ones."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.up = False
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.listener.close()


class RedisServer:
    """A private redis-server on a free port, to stop and start during a test."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _listens(self.port), timeout=30, message="redis-server")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def _listens(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
