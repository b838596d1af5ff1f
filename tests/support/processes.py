"""Real processes for the integration tests: Celery worker and beat, and a private redis-server.

The worker and beat are started as the operator would start them (`celery -A config ...`),
each in its own session so a test can kill -9 the whole process group. They talk to
pytest-django's test database (the tests use `transactional_db` so the rows they create are
committed and visible to these processes) and to a queue of their own, so a shared Redis
never hands them another run's messages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def live_database_url() -> str:
    """The URL of pytest-django's test database (`test_<name>`), for processes outside this one."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise AssertionError("the integration tests need PostgreSQL: set DATABASE_URL")
    user = quote(s.get("USER") or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def base_env(*, redis_url: str, queue: str | None = None, **extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": live_database_url(),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue or f"test-{uuid.uuid4().hex[:10]}",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Process:
    """A child process in its own session, with its output in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path):
        self.name, self.args, self.env, self.workdir = name, args, env, workdir
        self.log_path = workdir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_for_output(self, text: str, timeout: float = 40.0):
        def seen():
            if not self.alive():
                raise AssertionError(f"{self.name} exited early:\n{self.tail()}")
            return text in self.output()

        wait_until(seen, timeout=timeout, what=f"{self.name} to print {text!r}")

    def kill9(self):
        """kill -9 the whole process group (the worker and its pool children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass
        finally:
            self._log.close()


def celery_worker(env: dict[str, str], workdir: Path, *, concurrency: int = 2) -> Process:
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    args = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
        "--pool=prefork", "-Q", queue, "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    return Process("worker", args, env, workdir)


def celery_beat(env: dict[str, str], workdir: Path) -> Process:
    args = [
        sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
        f"--schedule={workdir / ('beat-' + uuid.uuid4().hex[:6])}", f"--pidfile={workdir / ('beat-' + uuid.uuid4().hex[:6] + '.pid')}",
    ]
    return Process("beat", args, env, workdir)


class RedisServer:
    """A private redis-server on another loopback port, for the tests that flush or restart it."""

    def __init__(self, workdir: Path | None = None):
        self.port = free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

        def pong():
            try:
                return self.client().ping()
            except Exception:
                if self.proc.poll() is not None:
                    raise AssertionError("redis-server exited at start")
                return False

        wait_until(pong, timeout=10, what="redis-server to answer")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill9_and_restart(self):
        """The broker dies (kill -9) and comes back empty on the same port: every message it held is gone."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.start()

    def flush_and_restart(self):
        """Lose everything the broker held, then come back empty on the same port."""
        self.client().flushall()
        self.stop()
        self.start()
