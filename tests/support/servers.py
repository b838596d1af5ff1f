"""Private servers for the fault tests: a PostgreSQL cluster and a redis-server of their own.

The fault tests restart the database and kill the broker, so they never touch the machine's
shared PostgreSQL (port 5432) or Redis: each starts its own on a free loopback port.

PostgreSQL: the machine's PostgreSQL 15 server binaries (`pg_config --bindir`, or
/usr/lib/postgresql/15/bin) run `initdb` on a fresh temporary directory, then `pg_ctl start`,
`pg_ctl restart -m fast` (the fault: every connection is cut, the server is back a moment
later) and `pg_ctl stop`; the directory is removed at the end. PostgreSQL refuses to run as
root, so when the tests run as root (CI does) each command runs as the `postgres` user
(`runuser -u postgres --`), on a directory that user owns. A missing server fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .processes import free_port, wait_until

PG_VERSION = "15"


def pg_bindir() -> Path:
    candidates = [Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out:
            candidates.append(Path(out))
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    raise AssertionError(
        f"the fault tests need the PostgreSQL {PG_VERSION} server binaries (initdb, pg_ctl): "
        f"install postgresql-{PG_VERSION}"
    )


class PostgresCluster:
    """A throwaway PostgreSQL cluster in its own directory, on its own loopback port, trust auth."""

    def __init__(self, *, fsync: bool = False):
        self.bindir = pg_bindir()
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        # Under the system's temporary folder, not pytest's (which only root may enter).
        self.root = Path(tempfile.mkdtemp(prefix="prep-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self.fsync = fsync
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.restarts: list[float] = []  # seconds each restart took, as `pg_ctl` saw it

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                                 f"{self.log_tail()}")
        return result

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def options(self) -> str:
        return (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync={'on' if self.fsync else 'off'} "
                "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200 -c shared_buffers=64MB")

    def start(self) -> "PostgresCluster":
        if not (self.datadir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--no-sync", "--locale=C")
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", self.options, "-w", "-t", "60", "start")
        wait_until(self.ready, timeout=30, what="PostgreSQL to accept connections")
        return self

    def restart(self) -> float:
        """The fault: a fast restart (every connection cut, open transactions rolled back)."""
        started = time.monotonic()
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", self.options, "-m", "fast", "-w",
                  "-t", "60", "restart")
        took = time.monotonic() - started
        self.restarts.append(took)
        return took

    def outage(self, seconds: float) -> float:
        """The fault: the server stops (fast: every connection cut), stays down, and starts again.

        Returns how long it was unreachable."""
        started = time.monotonic()
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop")
        time.sleep(seconds)
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-o", self.options, "-w", "-t", "60", "start")
        took = time.monotonic() - started
        self.restarts.append(took)
        return took

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "-t", "30", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        pid_file = self.datadir / "postmaster.pid"
        if pid_file.exists():  # pg_ctl could not stop it: end our own server by its pid
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ValueError, ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def ready(self) -> bool:
        result = subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"])
        return result.returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, **kwargs)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)
