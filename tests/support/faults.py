"""A fault run: workers, beat, a private PostgreSQL and broker, SMTP and push, and the faults.

Shared by the fault tests (tests/test_faults.py) and the benchmark that measures a full
scenario (`python -m bench.faults`). Everything it starts is its own: a PostgreSQL cluster
(`servers.PostgresCluster`), a redis-server on a free port (`processes.RedisServer`), an SMTP
server (`smtp.SmtpSink`), the Web Push stand-in (`push_service.PushService`) and the
operator's `celery -A config worker|beat` processes pointed at them. Nothing here needs
the test process's own Django database: the run's database is filled by a child process
(`fault_seed`) and read with plain SQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .processes import ROOT, Process, RedisServer, celery_beat, celery_worker, wait_until
from .push_service import PushService
from .servers import PostgresCluster
from .smtp import SmtpSink

TEMPLATE_DB = "prep_template"
CHANNELS = ("inapp", "email", "push")


def django_env(database_url: str, **extra) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "DATABASE_URL": database_url,
                "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "INFO"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def migrated_template(pg: PostgresCluster) -> str:
    """A database with every migration applied, to copy for each run (CREATE DATABASE … TEMPLATE)."""
    pg.create_database(TEMPLATE_DB)
    result = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT,
                            env=django_env(pg.url(TEMPLATE_DB)), capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"migrate failed:\n{result.stdout}\n{result.stderr}")
    return TEMPLATE_DB


@dataclass
class Fault:
    name: str
    at: float  # time.time() when it was injected
    sent_before: int
    held: int = 0  # external rows in flight at that moment
    back_after: float = 0.0  # seconds until the faulty part answered again


@dataclass
class Tally:
    """What arrived where, per channel, and which fault each repeat followed."""

    total: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)  # rows recorded as sent
    delivered: dict[str, int] = field(default_factory=dict)  # distinct reminders that arrived
    lost: dict[str, int] = field(default_factory=dict)  # never arrived
    doubles: dict[str, int] = field(default_factory=dict)  # extra copies that arrived
    doubles_by_cause: dict[str, dict[str, int]] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)  # log entries marked "possibly sent twice"
    unflagged_doubles: dict[str, int] = field(default_factory=dict)  # repeats the log does not mark
    statuses: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        parts = []
        for c in CHANNELS:
            if c in self.total:
                parts.append(f"{c}: {self.delivered[c]}/{self.total[c]} arrived, lost {self.lost[c]}, "
                             f"doubles {self.doubles[c]} {self.doubles_by_cause.get(c) or ''}, flagged {self.flagged[c]}")
        return "; ".join(parts)


class FaultRig:
    def __init__(self, workdir: Path, *, pg: PostgresCluster, redis_url: str, vapid_keys: tuple[str, str],
                 smtp_latency: float = 0.0, push_latency: float = 0.0, **settings):
        self.workdir = Path(workdir)
        self.pg = pg
        self.dbname = f"run_{uuid.uuid4().hex[:8]}"
        self.database_url = pg.create_database(self.dbname, template=TEMPLATE_DB)
        self.smtp = SmtpSink(latency=smtp_latency).start()
        self.push = PushService(expected_public_key=vapid_keys[0], latency=push_latency).start()
        self.vapid_keys = vapid_keys
        self.queue = f"faults-{uuid.uuid4().hex[:8]}"
        self.env = django_env(
            self.database_url,
            REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url, CELERY_TASK_DEFAULT_QUEUE=self.queue,
            REMINDER_JOURNAL_DIR=self.workdir / "journal", SITE_URL="http://testserver", EMAIL_URL=self.smtp.url,
            EMAIL_TIMEOUT=5, VAPID_PUBLIC_KEY=vapid_keys[0], VAPID_PRIVATE_KEY=vapid_keys[1],
            VAPID_SUBJECT="mailto:ops@example.org", WEBPUSH_ALLOW_HTTP="true", WEBPUSH_ENDPOINT_HOSTS="127.0.0.1",
            WEBPUSH_TIMEOUT_SECONDS=3, **settings,
        )
        self.workers: list[Process] = []
        self.beat_process: Process | None = None
        self.processes: list[Process] = []
        self.ids: dict[str, list[int]] = {}
        self.faults: list[Fault] = []
        self.due_at: float | None = None
        self.restarted = 0  # workers that exited on their own and were started again

    # --- setup ------------------------------------------------------------------------------

    def seed(self, *, patients: int, per_channel: dict[str, int], push_patients: int | None = None) -> dict[str, list[int]]:
        push_patients = patients if push_patients is None else push_patients
        browsers = [self.push.browser(f"phone-{i}") for i in range(push_patients)] if per_channel.get("push") else []
        spec = {"patients": patients, "per_channel": per_channel,
                "subscriptions": [[b.endpoint, b.p256dh, b.auth] for b in browsers]}
        spec_path, out_path = self.workdir / "seed-spec.json", self.workdir / "seed-out.json"
        spec_path.write_text(json.dumps(spec))
        result = subprocess.run([sys.executable, "-m", "tests.support.fault_seed", str(spec_path), str(out_path)],
                                cwd=ROOT, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(f"seeding failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        self.ids = {c: ids for c, ids in json.loads(out_path.read_text()).items()}
        return self.ids

    def make_due(self) -> None:
        """Every seeded reminder falls due at once."""
        self.sql("UPDATE reminders_reminder SET send_at = now() - interval '5 seconds' WHERE status = 'pending'")
        self.due_at = time.time()

    # --- processes --------------------------------------------------------------------------

    def worker(self, concurrency: int = 2) -> Process:
        proc = celery_worker(self.env, self.workdir, concurrency=concurrency).start()
        self.processes.append(proc)
        self.workers.append(proc)
        proc.wait_for_output(" ready.", timeout=90)
        return proc

    def beat(self) -> Process:
        proc = celery_beat(self.env, self.workdir).start()
        self.processes.append(proc)
        self.beat_process = proc
        proc.wait_for_output("beat: Starting", timeout=90)
        return proc

    def keep_workers_running(self) -> int:
        """Start again any worker that exited, as a supervisor would; return how many were."""
        restarted = 0
        for index, proc in enumerate(list(self.workers)):
            if not proc.alive():
                proc.stop()
                fresh = celery_worker(self.env, self.workdir, concurrency=self._concurrency(proc)).start()
                self.processes.append(fresh)
                self.workers[index] = fresh
                restarted += 1
        self.restarted += restarted
        return restarted

    @staticmethod
    def _concurrency(proc: Process) -> int:
        for arg in proc.args:
            if arg.startswith("--concurrency="):
                return int(arg.split("=", 1)[1])
        return 2

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self.smtp.stop()
        self.push.stop()
        try:
            with self.pg.connect(autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        except Exception:  # the cluster may already be gone; it is removed whole anyway
            pass

    def logs(self, lines: int = 60) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path.name}) ---\n{p.tail(lines)}" for p in self.processes)

    # --- the database, read and written with plain SQL ---------------------------------------

    def sql(self, query: str, params=None) -> list[tuple]:
        import psycopg

        for attempt in range(60):
            try:
                with self.pg.connect(self.dbname, autocommit=True, connect_timeout=3) as conn:
                    cur = conn.execute(query, params)
                    return cur.fetchall() if cur.description else []
            except psycopg.OperationalError:
                if attempt == 59:
                    raise
                time.sleep(0.5)  # the server is restarting: ask again
        return []

    def status_counts(self) -> dict[str, int]:
        return dict(self.sql("SELECT status, count(*) FROM reminders_reminder GROUP BY status"))

    def sent(self) -> int:
        return self.sql("SELECT count(*) FROM reminders_reminder WHERE status = 'sent'")[0][0]

    def held_external(self) -> int:
        return self.sql("SELECT count(*) FROM reminders_reminder WHERE status = 'sending' AND channel <> 'inapp'")[0][0]

    def total(self) -> int:
        return sum(len(v) for v in self.ids.values())

    # --- faults -----------------------------------------------------------------------------

    def wait_for_share_sent(self, share: float, timeout: float = 120) -> None:
        target = int(self.total() * share)
        wait_until(lambda: self.keep_workers_running() >= 0 and self.sent() >= target, timeout=timeout,
                   interval=0.05, what=f"{share:.0%} to be sent")

    def inject(self, name: str, action) -> Fault:
        fault = Fault(name=name, at=time.time(), sent_before=self.sent(), held=self.held_external())
        started = time.monotonic()
        action()
        fault.back_after = time.monotonic() - started
        self.faults.append(fault)
        return fault

    def kill9_worker(self, index: int = 0) -> None:
        self.workers[index].kill9()

    def restart_worker(self, index: int = 0) -> None:
        proc = self.workers[index]
        fresh = celery_worker(self.env, self.workdir, concurrency=self._concurrency(proc)).start()
        self.processes.append(fresh)
        self.workers[index] = fresh

    def kill9_beat(self) -> None:
        self.beat_process.kill9()

    def restart_beat(self) -> None:
        self.beat()

    def wait_drained(self, timeout: float) -> float:
        """Until every reminder is sent (restarting workers that exited); return the seconds waited."""
        started = time.monotonic()

        def drained():
            self.keep_workers_running()
            return self.sent() == self.total()

        wait_until(drained, timeout=timeout, interval=0.2, what="every reminder to be sent")
        return time.monotonic() - started

    # --- counting ---------------------------------------------------------------------------

    def cause_of(self, first_arrival: float) -> str:
        """The repeat's cause: the first fault injected after its first copy arrived."""
        for fault in self.faults:
            if fault.at >= first_arrival - 0.5:
                return fault.name
        return "no fault"

    def tally(self) -> Tally:
        tally = Tally()
        rows = self.sql("SELECT id, channel, status FROM reminders_reminder")
        status_of = {row_id: status for row_id, _, status in rows}
        for _, _, status in rows:
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
        inbox: dict[int, int] = {}
        for (reminder_id,) in self.sql("SELECT reminder_id FROM reminders_inboxmessage WHERE reminder_id IS NOT NULL"):
            inbox[reminder_id] = inbox.get(reminder_id, 0) + 1
        arrivals: dict[str, dict[int, list[float]]] = {"inapp": {r: [0.0] * n for r, n in inbox.items()},
                                                       "email": {}, "push": {}}
        for reminder_id, at in self.smtp.arrivals():
            arrivals["email"].setdefault(reminder_id, []).append(at)
        for record in self.push.accepted():
            arrivals["push"].setdefault(record.payload.get("reminder"), []).append(record.at)
        flagged = dict(self.sql(
            "SELECT channel, count(*) FROM reminders_deliveryattempt WHERE possible_duplicate GROUP BY channel"))
        flagged_ids = {r for (r,) in self.sql(
            "SELECT DISTINCT reminder_id FROM reminders_deliveryattempt WHERE possible_duplicate")}
        for channel, ids in self.ids.items():
            got = arrivals[channel]
            tally.total[channel] = len(ids)
            tally.sent[channel] = sum(1 for i in ids if status_of.get(i) == "sent")
            tally.delivered[channel] = sum(1 for i in ids if got.get(i))
            tally.lost[channel] = len(ids) - tally.delivered[channel]
            tally.doubles[channel] = sum(len(got[i]) - 1 for i in ids if len(got.get(i, [])) > 1)
            causes: dict[str, int] = {}
            for i in ids:
                times = sorted(got.get(i, []))
                if len(times) > 1:
                    cause = self.cause_of(times[0]) if channel != "inapp" else "in-app"
                    causes[cause] = causes.get(cause, 0) + len(times) - 1
            tally.doubles_by_cause[channel] = causes
            tally.flagged[channel] = flagged.get(channel, 0)
            tally.unflagged_doubles[channel] = sum(
                1 for i in ids if len(got.get(i, [])) > 1 and i not in flagged_ids
            )
        return tally

    def print_failure_context(self) -> None:
        print(self.logs(80))
        print("rows by status:", self.status_counts())
        print("not sent:", self.sql(
            "SELECT status, attempts, lost_claims, holder, lease_until, last_error FROM reminders_reminder "
            "WHERE status <> 'sent' LIMIT 10"))


def deprecation_lines(proc: Process) -> list[str]:
    """Lines of a process's log that speak of a deprecated or soon-changing setting."""
    return [line for line in proc.output().splitlines() if "deprecat" in line.lower()]


__all__ = ["FaultRig", "Fault", "Tally", "PostgresCluster", "RedisServer", "migrated_template", "deprecation_lines"]
