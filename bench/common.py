"""What every benchmark here shares: scratch databases, child processes, results and their goals."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess  # nosec B404  # the benchmarks start their own server, worker and beat processes
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One tag per benchmark run, inherited by the processes it starts: its scratch databases are its
# own, whoever else benchmarks or tests on the same server at the same time.
RUN_TAG = os.environ.setdefault("BENCH_RUN", str(os.getpid()))


def scratch(name: str) -> str:
    """The name of this run's scratch database `name`."""
    return f"{name}_{RUN_TAG}"


# --- Scratch databases ----------------------------------------------------------------------


def _server_conninfo() -> dict:
    import environ

    url = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    conninfo = dict(host=url.get("HOST") or "127.0.0.1", port=url.get("PORT") or 5432, user=url.get("USER") or None,
                    password=url.get("PASSWORD") or None, dbname="postgres")
    return {k: v for k, v in conninfo.items() if v is not None}


def recreate_database(name: str) -> None:
    """Drop and create the scratch database on the server DATABASE_URL points at."""
    import psycopg

    with psycopg.connect(**_server_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(**_server_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_services() -> None:
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name, "").strip():
            raise SystemExit(f"{name} must be set (make bench sets both)")
    if not os.environ["DATABASE_URL"].startswith(("postgres", "pgsql")):
        raise SystemExit("the benchmark needs PostgreSQL")


# --- Child processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process in a session of its own, its output in a log file."""

    def __init__(self, name, args, env, logdir, *, nice: int = 0):
        self.name = name
        self.log_path = Path(logdir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        # A fixed command line (this Python, celery, gunicorn) built here from no outside input (bandit B603).
        self.proc = subprocess.Popen(  # nosec B603
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            # A lower CPU priority for the child and what it forks (as docker-compose.yml's cpu_shares).
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


# --- Results ------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure, next to the baseline measured in the same run and the goal for their ratio.

    `goal` is a minimum for the ratio value/baseline (or for the value itself when there is no
    baseline); `limit` is an extra maximum, e.g. a p99 latency. Without either it is reported only.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: float | None = None
    goal_text: str = ""
    limit: float | None = None
    limit_value: float | None = None
    limit_text: str = ""
    limit_unit: str = " ms"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.goal is None and self.limit is None:
            return None
        ok = True
        if self.goal is not None:
            measured = self.ratio if self.baseline is not None else self.value
            ok = measured is not None and measured >= self.goal
        if self.limit is not None:
            ok = ok and self.limit_value is not None and self.limit_value < self.limit
        return ok

    def line(self) -> str:
        parts = [f"{self.name}: {fmt(self.value)} {self.unit}"]
        if self.baseline is not None:
            parts.append(f"baseline ({self.baseline_name}) {fmt(self.baseline)} {self.unit}, ratio {self.ratio:.3f}")
        if self.limit_value is not None:
            parts.append(self.limit_text.split(" <")[0] + f" {self.limit_value:.3g}{self.limit_unit}")
        if self.goal_text:
            parts.append(f"goal {self.goal_text}")
        if self.note:
            parts.append(self.note)
        return "  ".join([parts[0], *(f"| {p}" for p in parts[1:])])


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def print_figure(figure: Figure, results: list[Figure]) -> None:
    results.append(figure)
    print("  " + figure.line(), flush=True)


def summary_table(results: list[Figure]) -> str:
    """The final pass/fail table: every figure with a goal, then the reported ones."""
    rows = [("figure", "value", "baseline", "ratio", "goal", "result")]
    for f in sorted(results, key=lambda f: f.passed is None):
        ratio = "" if f.ratio is None else f"{f.ratio:.3f}"
        goal = f.goal_text or ""
        if f.limit_text:
            goal = f"{goal}, {f.limit_text}" if goal else f.limit_text
            shown = f"{f.limit_text.split(' <')[0]} {f.limit_value:.3g}{f.limit_unit}"
            ratio = (f"{ratio} ({shown})" if f.limit_unit else shown) if f.limit_value is not None else ratio
        result = {True: "PASS", False: "FAIL", None: "(reported)"}[f.passed]
        rows.append((f.name, f"{fmt(f.value)} {f.unit}", "" if f.baseline is None else f"{fmt(f.baseline)} {f.unit}",
                     ratio, goal, result))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def median_of(fn, runs: int) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values
