"""Reminder delivery benchmark: `python -m bench.reminders [--n 10000]` (or `make bench`).

Delivers N due in-app reminders end to end (PostgreSQL + Redis + one Celery worker + beat,
the processes an operator runs) and prints reminders per second (the median of --outbox-runs), next to:

  (a) the floor: claiming and marking the same rows with plain `UPDATE ... RETURNING` batches;
  (b) the usual alternative: one django-celery-beat one-off ClockedSchedule task per reminder,
      timed until all ran (or until --clocked-timeout, then the rate so far);

and the sweeper's tick cost with 1k due rows among 10k and among 1M rows (it should stay flat).

Everything happens in a scratch database (`bench_prepapp_<run>`, created and dropped here) on the
server DATABASE_URL names, and on a queue of its own on REDIS_URL.

One benchmark end to end (setup, the run, the floor and the baseline beside it) reads best in one file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from bench.common import Figure, Proc, drop_database, print_figure, recreate_database, require_services, scratch
FAR_FUTURE = "2100-01-01T00:00:00+00:00"
RULES_PER_TASK = 5
TASKS_PER_PATIENT = 10


# --- Setup ------------------------------------------------------------------------------------


def make_population(n: int):
    """Patients with open checklists whose in-app reminders are all planned far ahead; returns the reminder ids.

    Built with bulk inserts (the services would take minutes for 100k rows); each reminder
    is exactly what the planner makes, so delivery's checks pass.
    """
    from django.contrib.auth import get_user_model

    from checklists.models import Checklist, Protocol, ProtocolVersion, Task, TaskDefinition
    from prepapp.models import Organization, Patient, SurgeryCase
    from prepapp.reminders.models import Reminder

    User = get_user_model()
    org = Organization.objects.create(name="Bench clinic", slug=f"bench-{uuid.uuid4().hex[:6]}")
    protocol = Protocol.objects.create(key=f"bench-{uuid.uuid4().hex[:6]}", name="Bench", procedure="Bench")
    version = ProtocolVersion.objects.create(protocol=protocol, number=1, content_hash="bench")
    rules = [{"key": f"r{j}", "anchor": "due", "offset_days": -j} for j in range(RULES_PER_TASK)]
    definitions = TaskDefinition.objects.bulk_create(
        TaskDefinition(version=version, key=f"step-{i}", position=i, category="lifestyle", title=f"Bench step {i}",
                       instructions="Do the step.", offset_days=-7 - i, reminder_rules=rules)
        for i in range(TASKS_PER_PATIENT)
    )
    per_patient = TASKS_PER_PATIENT * RULES_PER_TASK
    count = -(-n // per_patient)
    tag = uuid.uuid4().hex[:6]
    users = User.objects.bulk_create(User(username=f"bench-{tag}-{i}") for i in range(count))
    zones = ["America/New_York", "Europe/Madrid", "Australia/Sydney", "UTC"]
    from datetime import time as wall

    patients = Patient.objects.bulk_create(
        Patient(organization=org, user=u, full_name=f"Bench {i}", time_zone=zones[i % len(zones)],
                quiet_hours_start=wall(0), quiet_hours_end=wall(0), contact_email="")
        for i, u in enumerate(users)
    )
    surgery = date.today() + timedelta(days=60)
    cases = SurgeryCase.objects.bulk_create(
        SurgeryCase(patient=p, procedure="Bench", surgery_date=surgery) for p in patients
    )
    checklists = Checklist.objects.bulk_create(Checklist(case=c, protocol_version=version) for c in cases)
    tasks = Task.objects.bulk_create(
        (Task(checklist=cl, definition=d, position=d.position, due_date=surgery + timedelta(days=d.offset_days))
         for cl in checklists for d in definitions),
        batch_size=5000,
    )
    patient_of = {c.id: c.patient_id for c in cases}
    checklist_case = {cl.id: cl.case_id for cl in checklists}
    rows = []
    for t in tasks:
        for rule in rules:
            rows.append(Reminder(task=t, patient_id=patient_of[checklist_case[t.checklist_id]], rule=rule["key"],
                                 channel="inapp", anchor_date=t.due_date + timedelta(days=rule["offset_days"]),
                                 send_at=FAR_FUTURE))
    rows = rows[:n]
    Reminder.objects.bulk_create(rows, batch_size=5000)
    return [r.id for r in rows]


def reset(ids: list[int]) -> None:
    """Back to pending and far ahead, with no trace of an earlier delivery."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DELETE FROM reminders_inboxmessage")
        cur.execute("DELETE FROM reminders_deliveryattempt")
        cur.execute(
            "UPDATE reminders_reminder SET status='pending', send_at=%s, attempts=0, claimed_at=NULL, sent_at=NULL, "
            "last_error='' WHERE id = ANY(%s)", [FAR_FUTURE, ids],
        )
        cur.execute("VACUUM ANALYZE reminders_reminder")


# --- Processes --------------------------------------------------------------------------------


def start_stack(logdir, *, concurrency: int, clocked: bool = False, worker_nice: int = 0, **extra):
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings", CELERY_TASK_DEFAULT_QUEUE=queue,
               CELERY_BROKER_URL=os.environ["REDIS_URL"], REMINDER_SWEEP_SECONDS="1", LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
               PYTHONUNBUFFERED="1", **{k: str(v) for k, v in extra.items()})
    if clocked:
        env["BENCH_NO_SWEEPER"] = "true"
    worker = Proc(f"worker-{'clocked' if clocked else 'outbox'}", [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
        "-Q", queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ], env, logdir, nice=worker_nice)
    beat_args = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                 f"--schedule={Path(logdir) / (queue + '.schedule')}", f"--pidfile={Path(logdir) / (queue + '.pid')}"]
    if clocked:
        beat_args.append("--scheduler=django_celery_beat.schedulers:DatabaseScheduler")
    beat = Proc(f"beat-{'clocked' if clocked else 'outbox'}", beat_args, env, logdir)
    worker.wait_for(" ready.")
    beat.wait_for("beat: Starting")
    return worker, beat


def wait_sent(ids, total: int, timeout: float) -> tuple[int, float]:
    from prepapp.reminders.models import Reminder

    start = time.monotonic()
    done = 0
    while time.monotonic() - start < timeout:
        done = Reminder.objects.filter(id__in=ids, status="sent").count() if ids is not None else \
            Reminder.objects.filter(status="sent").count()
        if done >= total:
            break
        time.sleep(0.2 if total > 2000 else 0.05)
    return done, time.monotonic() - start


# --- The three measurements ------------------------------------------------------------------


def run_outbox(ids, logdir, concurrency):
    """Deliver every reminder through the worker; returns (rate, seconds, seconds until the first claim).

    The rate counts from the first claim to the last "sent": the wait before it is the sweep
    interval (up to a second here), a matter of latency, not of throughput, and is reported apart.
    """
    from django.db import connection
    from django.db.models import Max, Min

    from prepapp.reminders.models import InboxMessage, Reminder

    worker, beat = start_stack(logdir, concurrency=concurrency)
    try:
        with connection.cursor() as cur:
            cur.execute("UPDATE reminders_reminder SET send_at = now() WHERE id = ANY(%s) RETURNING now()", [ids])
            due_at = cur.fetchone()[0]
        done, _ = wait_sent(None, len(ids), timeout=max(300, len(ids) / 20))
    finally:
        worker.stop()
        beat.stop()
    inbox = InboxMessage.objects.count()
    assert done == len(ids), f"only {done} of {len(ids)} delivered (see {logdir})"  # nosec B101  # a benchmark's self-check
    assert inbox == len(ids), f"{inbox} inbox messages for {len(ids)} reminders"  # nosec B101  # a benchmark's self-check
    # In-app rows keep the sweeper's claim instant: the first claim and the last send, by the database's clock.
    span = Reminder.objects.filter(id__in=ids).aggregate(first=Min("claimed_at"), last=Max("sent_at"))
    elapsed = (span["last"] - span["first"]).total_seconds()
    return len(ids) / elapsed, elapsed, (span["first"] - due_at).total_seconds()


def run_floor(ids, batch):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("UPDATE reminders_reminder SET send_at = now() WHERE id = ANY(%s)", [ids])
        t0 = time.monotonic()
        total = 0
        while True:
            cur.execute(
                "UPDATE reminders_reminder SET status='sent', claimed_at=now(), sent_at=now(), attempts=attempts+1, "
                "updated_at=now() WHERE id IN (SELECT id FROM reminders_reminder WHERE status='pending' "
                "AND send_at <= now() ORDER BY send_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
                [batch],
            )
            got = len(cur.fetchall())
            total += got
            if got == 0:
                break
        elapsed = time.monotonic() - t0
    assert total == len(ids)  # nosec B101  # a benchmark's self-check
    return total / elapsed, elapsed


def run_clocked(ids, logdir, concurrency, timeout):
    from django.db import connection
    from django_celery_beat.models import ClockedSchedule, PeriodicTask, PeriodicTasks

    far = FAR_FUTURE
    clocks = ClockedSchedule.objects.bulk_create((ClockedSchedule(clocked_time=far) for _ in ids), batch_size=5000)
    PeriodicTask.objects.bulk_create(
        (PeriodicTask(name=f"reminder-{rid}", task="bench.tasks.deliver_one", clocked=c, one_off=True,
                      args=f"[{rid}]", enabled=True) for rid, c in zip(ids, clocks)),
        batch_size=5000,
    )
    PeriodicTasks.update_changed()
    worker, beat = start_stack(logdir, concurrency=concurrency, clocked=True)
    # Let the scheduler finish its first read: a change made before its first comparison of the
    # "changed" timestamp would go unnoticed until its five-minute full sync.
    time.sleep(6)
    try:
        with connection.cursor() as cur:
            t0 = time.monotonic()
            cur.execute("UPDATE django_celery_beat_clockedschedule SET clocked_time = now()")
        PeriodicTasks.update_changed()
        time.sleep(0.01)
        PeriodicTasks.update_changed()
        done, _ = wait_sent(ids, len(ids), timeout=timeout)
        elapsed = time.monotonic() - t0
    finally:
        worker.stop()
        beat.stop()
    return done / elapsed, elapsed, done


def tick_cost(total: int, due: int, repeats: int = 5):
    """Median cost of one sweep that claims `due` rows out of a table of `total` reminder rows."""
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from checklists.models import Task
    from prepapp.reminders import outbox

    from prepapp.reminders.models import Reminder

    task = Task.objects.select_related("checklist__case").first()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE reminders_reminder CASCADE")
    # One row made by the ORM, so that every column the model has (now or later) gets a valid
    # value; the table is then filled with copies of it that differ in the columns below.
    template = Reminder.objects.create(task=task, patient_id=task.checklist.case.patient_id, rule="template",
                                       channel="inapp", anchor_date=date(1999, 1, 1), send_at=timezone.now())
    varying = {
        "rule": "'r' || (g % 1000)",
        "anchor_date": "DATE '2000-01-01' + (g / 1000)",
        # 70% history (sent), 30% planned ahead (pending, future), and `due` rows due now.
        "send_at": "CASE WHEN g < %(due)s THEN now() - interval '1 minute' "
                   "WHEN g % 10 < 7 THEN now() - interval '30 days' - make_interval(secs => g) "
                   "ELSE now() + interval '1 day' + make_interval(secs => g) END",
        "status": "CASE WHEN g < %(due)s THEN 'pending' WHEN g % 10 < 7 THEN 'sent' ELSE 'pending' END",
        "attempts": "0", "claimed_at": "NULL", "sent_at": "NULL", "created_at": "now()", "updated_at": "now()",
    }
    columns = [f.column for f in Reminder._meta.concrete_fields if not f.primary_key]
    values = [varying.get(c, f't."{c}"').replace("%", "%%").replace("%%(due)s", "%(due)s") for c in columns]
    with connection.cursor() as cur:
        # Column names from the model's metadata; the numbers are bound parameters (bandit B608).
        cur.execute(
            f"INSERT INTO reminders_reminder ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "  # nosec B608
            f"SELECT {', '.join(values)} FROM reminders_reminder t CROSS JOIN generate_series(0, %(total)s - 1) AS g "
            "WHERE t.id = %(template)s",
            {"due": due, "total": total, "template": template.id},
        )
        cur.execute("DELETE FROM reminders_reminder WHERE id = %s", [template.id])
        cur.execute("VACUUM ANALYZE reminders_reminder")
        cur.execute("SELECT array_agg(id) FROM reminders_reminder WHERE status = 'pending' AND send_at <= now()")
        due_ids = cur.fetchone()[0]
    settings.REMINDER_MAX_IN_FLIGHT = 10**9
    timings = []
    for attempt in range(repeats + 1):
        t0 = time.perf_counter()
        report = outbox.sweep(enqueue=lambda *a: None)
        if attempt:  # the first is a warm-up (plans and caches)
            timings.append(time.perf_counter() - t0)
        assert report.claimed == due, report  # nosec B101  # a benchmark's self-check
        with connection.cursor() as cur:
            cur.execute("UPDATE reminders_reminder SET status='pending', claimed_at=NULL, attempts=0 WHERE id = ANY(%s)",
                        [due_ids])
            cur.execute("VACUUM reminders_reminder")  # as autovacuum would: no dead rows from the last round
    # And a tick that finds nothing due: what the table costs when there is no work.
    with connection.cursor() as cur:
        cur.execute("UPDATE reminders_reminder SET send_at = now() + interval '1 hour' WHERE id = ANY(%s)", [due_ids])
        cur.execute("VACUUM reminders_reminder")
    outbox.sweep(enqueue=lambda *a: None)
    idle = []
    for _ in range(repeats * 4):
        t0 = time.perf_counter()
        outbox.sweep(enqueue=lambda *a: None)
        idle.append(time.perf_counter() - t0)
    return statistics.median(timings), statistics.median(idle)


# --- Main ---------------------------------------------------------------------------------------


# The goals: delivery at least a quarter of the bare claiming rate and 70 times one
# django-celery-beat task per reminder; the sweeper's tick as cheap among 1,000,000 rows as
# among 10,000 (within 1.3 times).
FLOOR_GOAL, CLOCKED_GOAL, TICK_RATIO_LIMIT = 0.25, 70.0, 1.3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reminder delivery")
    group.add_argument("--n", type=int, default=None, help="reminders to deliver (default 10000, 500 with --quick)")
    group.add_argument("--outbox-runs", type=int, default=None,
                       help="outbox and floor runs, the median reported (default 3, 1 with --quick)")
    group.add_argument("--clocked-n", type=int, default=None, help="reminders for the django-celery-beat run "
                       "(default: the same as --n, at most 10000)")
    group.add_argument("--clocked-timeout", type=float, default=None,
                       help="seconds before the clocked run is cut off (default 120, 20 with --quick)")
    group.add_argument("--concurrency", type=int, default=2, help="worker processes of the one worker")
    group.add_argument("--skip-clocked", action="store_true")
    group.add_argument("--skip-ticks", action="store_true")


def run(args, results: list[Figure]) -> None:
    quick = getattr(args, "quick", False)
    n = args.n or (500 if quick else 10_000)
    runs = args.outbox_runs or (1 if quick else 3)
    clocked_timeout = args.clocked_timeout or (20 if quick else 120)
    tick_sizes = (2_000, 20_000) if quick else (10_000, 1_000_000)
    os.environ["BENCH_DB_NAME"] = db_name = scratch("bench_prepapp")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    recreate_database(db_name)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATABASES["default"]["NAME"] = db_name
    call_command("migrate", verbosity=0)
    logdir = tempfile.mkdtemp(prefix="bench-reminders-")
    try:
        t = time.monotonic()
        ids = make_population(n)
        print(f"  population: {len(ids)} in-app reminders for {-(-len(ids) // 50)} patients in "
              f"{time.monotonic() - t:.1f}s", flush=True)

        outbox, floor = [], []
        for attempt in range(runs):
            if attempt:
                reset(ids)
            rate, elapsed, waited = run_outbox(ids, logdir, args.concurrency)
            outbox.append(rate)
            reset(ids)
            floor_rate, floor_elapsed = run_floor(ids, settings.REMINDER_INAPP_BATCH_SIZE)
            floor.append(floor_rate)
            print(f"  run {attempt + 1}: outbox (sweeper + delivery tasks, 1 worker x{args.concurrency}) "
                  f"{len(ids)} in {elapsed:.2f}s from the first claim to the last sent = {rate:,.0f}/s "
                  f"(first claim {waited:.2f}s after they fell due); floor (UPDATE ... RETURNING batches of "
                  f"{settings.REMINDER_INAPP_BATCH_SIZE}) {floor_elapsed:.2f}s = {floor_rate:,.0f}/s", flush=True)
        outbox_rate, floor_rate = statistics.median(outbox), statistics.median(floor)
        print_figure(Figure("in-app delivery (outbox, end to end)", outbox_rate, "msg/s", baseline=floor_rate,
                            baseline_name="UPDATE...RETURNING floor", goal=FLOOR_GOAL,
                            goal_text=f">= {FLOOR_GOAL} of floor", note=f"median of {runs}"), results)

        if not args.skip_clocked:
            reset(ids)
            clocked_n = min(args.clocked_n or min(n, 10_000, 100 if quick else 10_000), len(ids))
            subset = ids[:clocked_n]
            rate, elapsed, done = run_clocked(subset, logdir, args.concurrency, clocked_timeout)
            cut = "" if done == len(subset) else f" (cut off: {done} of {len(subset)} ran)"
            print(f"  django-celery-beat, one ClockedSchedule per reminder: {done} in {elapsed:.1f}s = "
                  f"{rate:,.1f}/s{cut}", flush=True)
            print_figure(Figure("in-app delivery vs one beat task per reminder", outbox_rate, "msg/s",
                                baseline=rate, baseline_name="django-celery-beat ClockedSchedule", goal=CLOCKED_GOAL,
                                goal_text=f">= {CLOCKED_GOAL:g}x"), results)

        if not args.skip_ticks:
            busy_of = {}
            due = min(1000, tick_sizes[0] // 10)
            for total in tick_sizes:
                t = time.monotonic()
                busy, idle = tick_cost(total, due)
                busy_of[total] = busy
                print(f"  sweeper tick, {due:,} due among {total:>9,} rows: {busy * 1000:7.1f} ms "
                      f"claiming them, {idle * 1000:5.2f} ms when none is due (median of 5; setup "
                      f"{time.monotonic() - t:.0f}s)", flush=True)
            small, large = tick_sizes
            ratio = busy_of[large] / busy_of[small]
            print_figure(Figure(f"sweeper tick among {large:,} rows", busy_of[large] * 1000, "ms",
                                baseline=busy_of[small] * 1000, baseline_name=f"among {small:,} rows",
                                limit=TICK_RATIO_LIMIT, limit_value=ratio, limit_text=f"ratio < {TICK_RATIO_LIMIT}",
                                limit_unit=""), results)
    finally:
        print(f"  logs: {logdir}")
        if not args.keep_db:
            drop_database(db_name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not figures")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database for inspection")
    add_arguments(parser)
    args = parser.parse_args(argv)
    require_services()
    results: list[Figure] = []
    run(args, results)
    return results


if __name__ == "__main__":
    main()
