"""Faults during a large delivery run: `python -m bench.faults [--patients 300] [--smtp-outage 60]`.

Two runs, each on a fresh database of a PostgreSQL 15 cluster of its own and a redis-server
of its own (both on free loopback ports; the machine's servers are never touched), with the
production settings (sweep every 30 s, lease 30 s, batches of 200, retry base 60 s), two
`celery -A config worker --concurrency=2` and one `celery -A config beat`, an SMTP server
and the Web Push stand-in on loopback (tests/support: the same rig the fault tests use):

1. Faults. Per patient 9 in-app, 9 email and 3 push reminders (300 patients: 2,700 + 2,700
   + 900 = 6,300), all due at once; then kill -9 of a worker at 17 % sent (started again 2 s
   later, as a supervisor would), a PostgreSQL fast restart at 36 %, Redis killed with -9
   and started again empty at 61 %, kill -9 of beat at 80 % (started again 10 s later).
   Counted: what arrived, what was lost, the doubles per channel and per fault, how long
   the claims that a fault orphaned stayed held, and the time to drain.
2. SMTP down. 9 emails per patient due at once; at 10 % sent the SMTP server stops
   listening for --smtp-outage seconds, then comes back. Measured: how long after it came
   back the last email went out.

Needs the PostgreSQL 15 server binaries (initdb, pg_ctl) and redis-server; run as root it
runs PostgreSQL as the `postgres` user. Prints one block of figures (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.faults import FaultRig, migrated_template  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402
from tests.support.push_service import vapid_key_pair  # noqa: E402
from tests.support.servers import PostgresCluster  # noqa: E402

PRODUCTION = dict(
    REMINDER_SWEEP_SECONDS=30, REMINDER_LEASE_SECONDS=30, REMINDER_BATCH_SIZE=200, REMINDER_RETRY_BASE_SECONDS=60,
    REMINDER_RETRY_MAX_SECONDS=300, REMINDER_MAX_ATTEMPTS=5, REMINDER_MAX_IN_FLIGHT=4000,
    CELERY_TASK_SOFT_TIME_LIMIT=120, CELERY_TASK_TIME_LIMIT=180,
)


class ReleaseWatch:
    """Times how long a set of claims stays orphaned after a fault: until each row has left
    "sending", carries another token (a worker took it) or got a new lease (queued again)."""

    def __init__(self, rig: FaultRig, name: str, claims: dict[int, object]):
        self.rig, self.name, self.claims = rig, name, dict(claims)
        self.started = time.monotonic()
        self.seconds: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        if self.claims:
            self.thread.start()
        else:
            self.seconds = 0.0

    def _run(self):
        while self.seconds is None and time.monotonic() - self.started < 900:
            ids = list(self.claims)
            rows = self.rig.sql(
                "SELECT id, claimed_at, lease_until FROM reminders_reminder WHERE status = 'sending' AND id = ANY(%s)",
                [ids])
            if not any(self.claims[i] == (claimed, lease) for i, claimed, lease in rows):
                self.seconds = time.monotonic() - self.started
                return
            time.sleep(0.5)

    def line(self) -> str:
        held = f"{self.seconds:.1f}s" if self.seconds is not None else "not released"
        return f"{self.name}: {len(self.claims)} claims orphaned, all released after {held}"


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped (a killed worker's pool children can linger as those)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def claims_of_dead_holders(rig: FaultRig) -> dict[int, object]:
    """Rows a worker process took and that process is gone (holder "host:pid")."""
    dead = {}
    for row_id, holder, claimed, lease in rig.sql(
        "SELECT id, holder, claimed_at, lease_until FROM reminders_reminder WHERE status = 'sending' AND holder <> ''"
    ):
        if not _alive(int(holder.rsplit(":", 1)[-1])):
            dead[row_id] = (claimed, lease)
    return dead


def untaken_claims(rig: FaultRig) -> dict[int, object]:
    """Rows claimed but not taken by any worker: their "deliver these ids" message was in the broker."""
    return {row_id: (claimed, lease) for row_id, claimed, lease in rig.sql(
        "SELECT id, claimed_at, lease_until FROM reminders_reminder WHERE status = 'sending' AND holder = ''")}


def run_faults(pg: PostgresCluster, workdir: Path, keys, patients: int) -> list[str]:
    redis = RedisServer(workdir / "redis").start()
    rig = FaultRig(workdir, pg=pg, redis_url=redis.url, vapid_keys=keys, smtp_latency=0.002, push_latency=0.005,
                   **PRODUCTION)
    lines = []
    watches: list[ReleaseWatch] = []
    try:
        t0 = time.monotonic()
        rig.seed(patients=patients, per_channel={"inapp": 9, "email": 9, "push": 3})
        seeded = time.monotonic() - t0
        rig.worker(concurrency=2)
        rig.worker(concurrency=2)
        rig.beat()
        rig.make_due()
        started = time.monotonic()

        rig.wait_for_share_sent(0.17, timeout=900)
        rig.inject("kill -9 of a worker", lambda: rig.kill9_worker(0))
        watches.append(ReleaseWatch(rig, "kill -9 of a worker", claims_of_dead_holders(rig)))
        time.sleep(2)
        rig.restart_worker(0)

        rig.wait_for_share_sent(0.36, timeout=900)
        fault = rig.inject("PostgreSQL restart", pg.restart)
        lines.append(f"PostgreSQL fast restart: back in {fault.back_after:.1f}s")

        rig.wait_for_share_sent(0.61, timeout=900)
        rig.inject("Redis killed, back empty", redis.kill9_and_restart)
        watches.append(ReleaseWatch(rig, "Redis killed, back empty", untaken_claims(rig)))

        rig.wait_for_share_sent(0.80, timeout=900)
        rig.inject("kill -9 of beat", rig.kill9_beat)
        time.sleep(10)
        rig.restart_beat()

        rig.wait_drained(900)
        finished, finished_wall = time.monotonic(), time.time()
        time.sleep(2)
        tally = rig.tally()
        for watch in watches:
            if watch.thread.is_alive():
                watch.thread.join(5)
        lines.append(f"seeded {rig.total()} reminders for {patients} patients in {seeded:.0f}s")
        for f in rig.faults:
            lines.append(f"  {f.name}: at {f.sent_before} sent ({f.sent_before / rig.total():.0%}), "
                         f"{f.held} email/push rows in flight")
        for watch in watches:
            lines.append("  " + watch.line())
        lines.append(f"all sent {finished - started:.0f}s after falling due; after each fault: " + ", ".join(
            f"{f.name} {finished_wall - f.at:.0f}s" for f in rig.faults))
        lines.append(f"{'channel':8} {'total':>6} {'arrived':>8} {'lost':>5} {'doubles':>8} {'flagged':>8}  doubles by cause")
        for c in ("inapp", "email", "push"):
            lines.append(f"{c:8} {tally.total[c]:>6} {tally.delivered[c]:>8} {tally.lost[c]:>5} {tally.doubles[c]:>8} "
                         f"{tally.flagged[c]:>8}  {tally.doubles_by_cause[c] or '-'}")
        lines.append(f"statuses: {tally.statuses}; doubles the log does not flag: {tally.unflagged_doubles}")
        lines.append(f"workers started again after exiting on their own: {rig.restarted}")
    except BaseException:
        rig.print_failure_context()
        raise
    finally:
        rig.stop()
        redis.stop()
    return lines


def run_smtp_outage(pg: PostgresCluster, workdir: Path, keys, patients: int, outage: float) -> list[str]:
    redis = RedisServer(workdir / "redis").start()
    rig = FaultRig(workdir, pg=pg, redis_url=redis.url, vapid_keys=keys, smtp_latency=0.002, **PRODUCTION)
    try:
        rig.seed(patients=patients, per_channel={"email": 9})
        rig.worker(concurrency=2)
        rig.worker(concurrency=2)
        rig.beat()
        rig.make_due()
        rig.wait_for_share_sent(0.10, timeout=900)
        rig.inject(f"SMTP down {outage:.0f}s", rig.smtp.go_down)
        down_at = rig.sent()
        time.sleep(outage)
        rig.smtp.come_back()
        back, back_wall = time.monotonic(), time.time()
        rig.wait_drained(1800)
        drained = time.monotonic() - back
        last_arrival = max(t for _, t in rig.smtp.arrivals()) - back_wall
        time.sleep(2)
        tally = rig.tally()
        attempts = rig.sql("SELECT max(attempts), avg(attempts) FROM reminders_reminder")[0]
        return [
            f"{rig.total()} emails due at once; SMTP stopped listening at {down_at} sent, for {outage:.0f}s",
            f"after it came back: the last email accepted by SMTP {last_arrival:.1f}s later, "
            f"every email recorded sent {drained:.1f}s later",
            f"arrived {tally.delivered['email']}/{tally.total['email']}, lost {tally.lost['email']}, "
            f"doubles {tally.doubles['email']}; attempts per email: max {attempts[0]}, mean {float(attempts[1]):.2f}",
        ]
    except BaseException:
        rig.print_failure_context()
        raise
    finally:
        rig.stop()
        redis.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--smtp-outage", type=float, default=60.0)
    parser.add_argument("--only", choices=["faults", "smtp"], default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("DEBUG", "true")
    keys = vapid_key_pair()
    pg = PostgresCluster(fsync=True).start()
    out = [f"python -m bench.faults --patients {args.patients} --smtp-outage {args.smtp_outage:.0f}"]
    try:
        migrated_template(pg)
        if args.only in (None, "faults"):
            with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
                (Path(tmp) / "redis").mkdir()
                out += ["", "1. Faults during delivery"] + run_faults(pg, Path(tmp), keys, args.patients)
        if args.only in (None, "smtp"):
            with tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp:
                (Path(tmp) / "redis").mkdir()
                out += ["", "2. SMTP down"] + run_smtp_outage(pg, Path(tmp), keys, args.patients, args.smtp_outage)
    finally:
        pg.destroy()
    print("\n".join(out))


if __name__ == "__main__":
    main()
