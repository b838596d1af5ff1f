"""The morning peak: `python -m bench.peak [--quick]` (part of `make bench`: `--only peak`).

100,000 followed patients (2,000 with --quick) across six time zones, each with a checklist whose
steps make a digest and a critical step's own reminder on every channel the patient has (the
app's inbox always; Web Push for three in five, email for the others), all planned for 09:00 on
the patient's own clock. The largest zone's 09:00 is made to fall now: its rows are given a send
time a few seconds ahead (the other zones' stay hours away, as the table's bulk), and quiet hours
are off, since the bench cannot wait for a real morning. Then, with the processes an operator runs
(one Celery worker, at the lower CPU priority docker-compose.yml gives it beside the web server,
and beat, the bench's SMTP server, the Web Push stand-in that checks each
VAPID JWT and decrypts each message) and the web server (gunicorn, production settings), it
measures for that zone, per channel, the time from "due" to the last message delivered, while
wrk loads the API with patient reads and ticks (the checklist's state as the app reads it, ticking
a step off and on) for 48 patients of that zone, offered at a set rate (LOAD_RATE, below). The
API's p99 during the peak is set against the same load's p99 just before it.

Goals: every reminder out within 60 s of due; the API's p99 under 200 ms during the peak.

The population is written with bulk SQL (INSERT … SELECT over generate_series, copying a row made
by the ORM so that every column gets a valid value), on a scratch database of its own.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as wall
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import ROOT, Figure, drop_database, print_figure, recreate_database, require_services, scratch

DB_NAME = scratch("bench_peak")
# Six zones and their share of the patients: the first is the largest, whose morning is measured.
ZONES = [("America/New_York", 30), ("America/Chicago", 20), ("Europe/Madrid", 16), ("America/Los_Angeles", 14),
         ("America/Mexico_City", 12), ("Europe/London", 8)]
PUSH_IN_FIVE = 3  # patients with a subscribed browser, in five; the others get email
LOAD_PATIENTS = 48  # three for each of the load's connections
# The load beside the peak is offered at a set rate, as phones make it: each of wrk's connections
# waits between its requests (wrk's `delay`) so that together they ask about LOAD_RATE requests a
# second. The rate is the zone's own morning with room to spare: a tenth of its 30,000 patients
# opening the app in the reminders' minute makes 3,000 visits of a few reads and a tick each, about
# 150 requests a second. A closed loop with no pause (every connection asking again the moment it
# is answered) measures the web server's ceiling instead, which the API part does; here it took
# about a core for wrk alone and left the p99 the length of gunicorn's queue.
LOAD_CONNECTIONS = 16
LOAD_RATE = 150
WORKER_NICE = 6
DUE_GOAL_SECONDS, P99_GOAL_MS = 60.0, 200.0
LEAD_SECONDS = 5.0  # from the send times being set to their falling due


def setup() -> None:
    recreate_database(DB_NAME)
    os.environ.update(SECRET_KEY=secrets.token_urlsafe(64), BENCH_DB_NAME=DB_NAME,
                      DJANGO_SETTINGS_MODULE="bench.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATABASES["default"]["NAME"] = DB_NAME
    settings.SECRET_KEY = os.environ["SECRET_KEY"]
    call_command("migrate", verbosity=0)


def clone(cursor, model, template_id: int, source_sql: str, varying: dict[str, str], params=None) -> int:
    """Insert copies of one ORM-made row of `model`, one per row of `source_sql` (aliased `s`),
    with the columns in `varying` given by SQL expressions; returns the rows inserted."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    values = [varying.get(c, f't."{c}"') for c in columns]
    table = model._meta.db_table
    # Table and column names from the models' metadata; every outside value is a bound parameter (bandit B608).
    cursor.execute(
        f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '  # nosec B608
        f'SELECT {", ".join(values)} FROM "{table}" t CROSS JOIN ({source_sql}) s WHERE t.id = %(template)s',
        {"template": template_id, **(params or {})},
    )
    return cursor.rowcount


def populate(n: int, push_service) -> dict:
    """The patients, checklists, subscriptions and 09:00 reminders; returns what the run needs."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from checklists.models import Checklist, Protocol, ProtocolVersion, Task, TaskDefinition
    from prepapp.models import Organization, Patient, SurgeryCase
    from prepapp.reminders.models import DIGEST_RULE, PushSubscription, Reminder

    User = get_user_model()
    t0 = time.monotonic()
    org = Organization.objects.create(name="Peak clinic", slug="peak-clinic")
    protocol = Protocol.objects.create(key="peak", name="Peak", procedure="Peak")
    version = ProtocolVersion.objects.create(protocol=protocol, number=1, content_hash="peak")
    due_rule = [{"key": "due", "anchor": "due", "offset_days": 0}]
    definitions = TaskDefinition.objects.bulk_create([
        TaskDefinition(version=version, key="walk", position=1, category="lifestyle", title="Walk for 20 minutes",
                       instructions="Walk at an easy pace.", offset_days=-10, reminder_rules=due_rule),
        TaskDefinition(version=version, key="stop-nsaids", position=2, category="medication",
                       title="Stop anti-inflammatory painkillers", instructions="Stop them today.", offset_days=-7,
                       reminder_rules=due_rule, critical=True),
        TaskDefinition(version=version, key="shower", position=3, category="hygiene", title="Shower with the soap",
                       instructions="As shown.", offset_days=-1, reminder_rules=due_rule),
    ])
    # Templates made by the ORM (every column valid), copied below.
    user = User.objects.create(username="peak-template")
    patient = Patient.objects.create(organization=org, user=user, full_name="Template", time_zone="UTC",
                                     quiet_hours_start=wall(0), quiet_hours_end=wall(0),
                                     contact_email="template@example.org")
    case = SurgeryCase.objects.create(patient=patient, procedure="Lumbar fusion",
                                      surgery_date=datetime.now().date() + timedelta(days=30))
    checklist = Checklist.objects.create(case=case, protocol_version=version)
    task = Task.objects.create(checklist=checklist, definition=definitions[0], due_date=case.surgery_date)
    subscription = PushSubscription.objects.create(patient=patient, endpoint="https://template.invalid/x",
                                                   p256dh="x", auth="x")
    reminder = Reminder.objects.create(patient=patient, task=None, rule=DIGEST_RULE, channel="inapp",
                                       anchor_date=case.surgery_date, send_at="2100-01-01T00:00:00+00:00")
    cut, zone_sql = 0, []
    for zone, share in ZONES:
        zone_sql.append(f"WHEN s.g %% 100 < {cut + share} THEN '{zone}'")
        cut += share
    zone_of = f"CASE {' '.join(zone_sql)} END"
    # Each zone's today, on its own clock: the steps due today there, the digests of that day.
    local_today = "(now() AT TIME ZONE p.time_zone)::date"
    with transaction.atomic(), connection.cursor() as cur:
        clone(cur, User, user.id, "SELECT g FROM generate_series(1, %(n)s) g",
              {"username": "'peak-' || s.g", "email": "''"}, {"n": n})
        clone(cur, Patient, patient.id,
              "SELECT u.id AS user_id, substring(u.username from 6)::int AS g FROM auth_user u "
              "WHERE u.username LIKE 'peak-%%' AND u.username <> 'peak-template'",
              {"user_id": "s.user_id", "full_name": "'Patient ' || s.g", "time_zone": zone_of.replace("s.g", "s.g"),
               "language": "CASE WHEN s.g %% 3 = 0 THEN 'es' ELSE 'en' END",
               "contact_email": "'patient' || s.g || '@example.org'",
               "push_enabled": f"(s.g %% 5 < {PUSH_IN_FIVE})"})
        clone(cur, SurgeryCase, case.id, "SELECT id FROM prepapp_patient WHERE id <> %(patient)s",
              {"patient_id": "s.id"}, {"patient": patient.id})
        clone(cur, Checklist, checklist.id, "SELECT id FROM prepapp_surgerycase WHERE id <> %(case)s",
              {"case_id": "s.id"}, {"case": case.id})
        # Each patient's three steps: two due today on the patient's clock, one in three days.
        clone(cur, Task, task.id,
              f"SELECT cl.id AS checklist_id, d.id AS definition_id, d.position, "  # nosec B608 (the bench's own SQL)
              f"{local_today} + CASE WHEN d.key = 'shower' THEN 3 ELSE 0 END AS due_date "
              "FROM checklists_checklist cl JOIN prepapp_surgerycase c ON c.id = cl.case_id "
              "JOIN prepapp_patient p ON p.id = c.patient_id CROSS JOIN checklists_taskdefinition d "
              "WHERE cl.id <> %(checklist)s AND d.version_id = %(version)s",
              {"checklist_id": "s.checklist_id", "definition_id": "s.definition_id", "position": "s.position",
               "due_date": "s.due_date"}, {"checklist": checklist.id, "version": version.id})
    # The browsers of the measured zone's push patients (the stand-in holds their keys); the other
    # zones' subscriptions never send during the run and only fill the table.
    peak_zone = ZONES[0][0]
    push_patients = list(Patient.objects.filter(push_enabled=True, time_zone=peak_zone).values_list("id", flat=True))
    rows = []
    for pid in push_patients:
        browser = push_service.browser(f"patient-{pid}")
        rows.append((pid, browser.endpoint, browser.p256dh, browser.auth))
    with connection.cursor() as cur:
        with cur.copy("COPY reminders_pushsubscription (patient_id, endpoint, p256dh, auth, user_agent, created_at) "
                      "FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, "", datetime.now(ZoneInfo("UTC"))))
        cur.execute(
            "INSERT INTO reminders_pushsubscription (patient_id, endpoint, p256dh, auth, user_agent, created_at) "
            "SELECT id, 'https://push.invalid/' || id, 'x', 'x', '', now() FROM prepapp_patient "
            "WHERE push_enabled AND time_zone <> %s", [peak_zone])
        # The 09:00 rows: a digest and the critical step's own reminder on each of the patient's
        # channels (push or email beside the inbox), at 09:00 of the patient's today, far ahead for now.
        channels = ("SELECT p.id AS patient_id, p.time_zone, ch.channel FROM prepapp_patient p CROSS JOIN "
                    "(VALUES ('inapp'), ('push'), ('email')) ch(channel) WHERE ch.channel = 'inapp' OR "
                    "(ch.channel = 'push') = p.push_enabled")
        clone(cur, Reminder, reminder.id, f"SELECT c.*, ({local_today.replace('p.', 'c.')}) AS day "  # nosec B608 (the bench's own SQL)
              f"FROM ({channels}) c",
              {"patient_id": "s.patient_id", "channel": "s.channel", "anchor_date": "s.day", "task_id": "NULL",
               "rule": f"'{DIGEST_RULE}'", "send_at": "'2100-01-01T00:00:00+00:00'::timestamptz"})
        clone(cur, Reminder, reminder.id,
              f"SELECT c.*, t.id AS task_id, t.due_date FROM ({channels}) c "  # nosec B608 (the bench's own SQL)
              "JOIN prepapp_surgerycase k ON k.patient_id = c.patient_id "
              "JOIN checklists_checklist cl ON cl.case_id = k.id JOIN checklists_task t ON t.checklist_id = cl.id "
              "JOIN checklists_taskdefinition d ON d.id = t.definition_id AND d.critical",
              {"patient_id": "s.patient_id", "channel": "s.channel", "anchor_date": "s.due_date", "task_id": "s.task_id",
               "rule": "'due'", "send_at": "'2100-01-01T00:00:00+00:00'::timestamptz"})
        # The templates go, and with them their rows.
        cur.execute("DELETE FROM reminders_reminder WHERE patient_id = %s", [patient.id])
        cur.execute("DELETE FROM reminders_pushsubscription WHERE patient_id = %s", [patient.id])
        for table, row_id in (("checklists_task", task.id), ("checklists_checklist", checklist.id),
                              ("prepapp_surgerycase", case.id), ("prepapp_patient", patient.id),
                              ("auth_user", user.id)):
            cur.execute(f'DELETE FROM "{table}" WHERE id = %s', [row_id])  # nosec B608  # fixed table names
        cur.execute("SELECT count(*) FROM reminders_reminder")
        total = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM reminders_reminder r JOIN prepapp_patient p ON p.id = r.patient_id "
                    "WHERE p.time_zone = %s", [peak_zone])
        peak = cur.fetchone()[0]
        cur.execute("VACUUM ANALYZE")
    print(f"  population: {n:,} patients in {len(ZONES)} zones, {total:,} reminders at 09:00 local "
          f"({peak:,} in {peak_zone}), {len(push_patients):,} browsers there; {time.monotonic() - t0:.0f}s",
          flush=True)
    return {"peak_zone": peak_zone, "peak_rows": peak, "total_rows": total}


def sessions_for(patient_ids: list[int]) -> list[str]:
    """A signed-in session per patient, made as signing in makes one; their cookie values."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from prepapp.authentication import SESSION_USER_BACKEND
    from prepapp.models import SESSION_GENERATION_KEY, SESSION_KIND_KEY, SESSION_LAST_ACTIVITY_KEY, Patient

    store = import_module(settings.SESSION_ENGINE).SessionStore
    cookies = []
    # In the order asked for: the load script pairs the i-th cookie with the i-th patient's step.
    by_id = Patient.objects.select_related("user").in_bulk(patient_ids)
    for patient in (by_id[pid] for pid in patient_ids):
        session = store()
        session.update({
            SESSION_KEY: str(patient.user.pk), BACKEND_SESSION_KEY: SESSION_USER_BACKEND,
            HASH_SESSION_KEY: patient.user.get_session_auth_hash(), SESSION_GENERATION_KEY: 0,
            SESSION_KIND_KEY: "patient", SESSION_LAST_ACTIVITY_KEY: int(timezone.now().timestamp()),
        })
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


LOAD_SCRIPT = """
-- Patient reads and ticks as the app makes them. Each wrk thread is one connection (-t = -c) and
-- stands for its own patients (never another connection's: two phones of one patient do not tick
-- at once), going round them: the checklist's state four times in five, and a tick once (the
-- step due in three days, off and on in turn). Each pauses between requests so that all of them
-- together offer the set rate.
local cookies = {%(cookies)s}
local tasks = {%(tasks)s}
local csrf = "%(csrf)s"
local origin = "%(origin)s"
local pause_ms = %(pause_ms)d
local connections = %(connections)d
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local mine, ticked, n = {}, {}, 0
init = function(args)
  for i = id, #cookies, connections do
    mine[#mine + 1] = i
  end
end
delay = function()
  return pause_ms
end
request = function()
  n = n + 1
  local i = mine[math.floor(n / 5) %% #mine + 1]
  local headers = {["Cookie"] = cookies[i] .. "; csrftoken=" .. csrf, ["X-Forwarded-Proto"] = "https",
                   ["X-CSRFToken"] = csrf, ["Origin"] = origin}
  if n %% 5 == 4 then
    ticked[i] = not ticked[i]
    local action = ticked[i] and "complete" or "reopen"
    return wrk.format("POST", "/api/v1/me/tasks/" .. tasks[i] .. "/" .. action .. "/", headers, "")
  end
  return wrk.format("GET", "/api/v1/me/checklist/state/", headers, nil)
end
"""


def load_script(logdir: str, base: str, patient_ids: list[int]) -> str:
    from django.utils.crypto import get_random_string

    from checklists.models import Task

    cookies = sessions_for(patient_ids)
    tasks = dict(Task.objects.filter(checklist__case__patient_id__in=patient_ids, definition__key="shower")
                 .values_list("checklist__case__patient_id", "id"))
    path = Path(logdir) / "peak-load.lua"
    path.write_text(LOAD_SCRIPT % {
        "cookies": ", ".join(f'"{c}"' for c in cookies), "tasks": ", ".join(str(tasks[p]) for p in patient_ids),
        "csrf": get_random_string(32), "origin": f"https://127.0.0.1:{base.rsplit(':', 1)[1]}",
        # Each connection offers 1000 / pause_ms requests a second, less the time its answers take;
        # wrk times a request from its sending, so the pause is not counted in the latency.
        "pause_ms": round(1000 * LOAD_CONNECTIONS / LOAD_RATE), "connections": LOAD_CONNECTIONS,
    })
    return str(path)


def wait_delivered(peak_zone: str, timeout: float) -> int:
    """Wait until none of the zone's due rows is pending or sending; returns how many still are.
    (The load's ticks plan rows of their own for later days: those are not the peak's.)"""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM reminders_reminder r JOIN prepapp_patient p ON p.id = r.patient_id "
                        "WHERE p.time_zone = %s AND r.status IN ('pending', 'sending') AND r.send_at <= now()",
                        [peak_zone])
            left = cur.fetchone()[0]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def run(args, results: list[Figure]) -> None:
    import subprocess  # nosec B404  # wrk, a fixed local program

    sys.path.insert(0, str(ROOT))
    from bench.api import Server, parse_wrk, run_wrk
    from bench.channels import SmtpServer
    from bench.reminders import start_stack
    from tests.support.push_service import PushService, vapid_key_pair

    n = 2000 if args.quick else args.peak_patients
    setup()
    from django.db import connection, connections

    public, private = vapid_key_pair()  # made for this run, never stored
    push = PushService(expected_public_key=public).start()
    sink = SmtpServer("sink")
    logdir = tempfile.mkdtemp(prefix="bench-peak-")
    worker = beat = server = None
    try:
        population = populate(n, push)
        peak_zone = population["peak_zone"]
        from prepapp.models import Patient

        load_ids = list(Patient.objects.filter(time_zone=peak_zone).order_by("id")
                        .values_list("id", flat=True)[:LOAD_PATIENTS])
        floor_body = Path(logdir) / "floor.json"
        floor_body.write_bytes(b"{}")
        connections.close_all()
        server = Server(logdir, floor_body, workers=2, worker_class="sync", threads=4)
        script = load_script(logdir, server.base, load_ids)
        worker, beat = start_stack(
            # The worker's CPU weight against the web server's as docker-compose.yml gives it
            # (cpu_shares 256 against 1024): nice 6 is a weight of 272 against nice 0's 1024.
            logdir, concurrency=args.peak_concurrency, worker_nice=WORKER_NICE, SECRET_KEY=os.environ["SECRET_KEY"],
            EMAIL_URL=f"smtp://127.0.0.1:{sink.port}", EMAIL_TIMEOUT=10, SITE_URL="https://127.0.0.1",
            VAPID_PUBLIC_KEY=public, VAPID_PRIVATE_KEY=private, VAPID_SUBJECT="mailto:operations@example.org",
            WEBPUSH_ALLOW_HTTP="true", WEBPUSH_ENDPOINT_HOSTS="127.0.0.1", WEBPUSH_TIMEOUT_SECONDS=10,
        )
        quiet_seconds = 3 if args.quick else 10
        binary = shutil.which("wrk")
        if binary is None:
            raise SystemExit("wrk is needed for the peak's API load (apt-get install wrk)")
        wrk_args = [f"-t{LOAD_CONNECTIONS}", f"-c{LOAD_CONNECTIONS}", "--latency", "--timeout", "10s", "-s", script]
        run_wrk([binary, *wrk_args, "-d2s", f"{server.base}/"])  # warm-up
        before = parse_wrk(run_wrk([binary, *wrk_args, f"-d{quiet_seconds}s", f"{server.base}/"]))
        print(f"  the API's load before the peak: {before.rate:,.0f} req/s, p50 {before.p50_ms:.1f} ms, "
              f"p99 {before.p99_ms:.1f} ms", flush=True)
        # The load through the peak, started as the rows fall due, for as long as the goal allows.
        seconds = 20 if args.quick else int(DUE_GOAL_SECONDS)
        with connection.cursor() as cur:
            cur.execute("UPDATE reminders_reminder r SET send_at = now() + make_interval(secs => %s) "
                        "FROM prepapp_patient p WHERE p.id = r.patient_id AND p.time_zone = %s RETURNING r.send_at",
                        [LEAD_SECONDS, peak_zone])
            due_at = cur.fetchone()[0]
        time.sleep(max(0.0, LEAD_SECONDS - 1))
        load = subprocess.Popen(  # nosec B603  # a fixed local program on loopback
            [binary, *wrk_args, f"-d{seconds}s", f"{server.base}/"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        left = wait_delivered(peak_zone, timeout=120 if args.quick else 600)
        during = parse_wrk(load.communicate(timeout=seconds + 60)[0])
        with connection.cursor() as cur:
            cur.execute(
                # The peak's rows: those due by now and not cancelled by a tick of the load (a
                # step ticked off takes its reminders back; they are not to be sent).
                "SELECT r.channel, count(*) FILTER (WHERE r.status = 'sent'), count(*), "
                "extract(epoch FROM max(r.sent_at) - %s), extract(epoch FROM min(r.claimed_at) - %s), "
                "string_agg(DISTINCT r.status, ',') FROM reminders_reminder r "
                "JOIN prepapp_patient p ON p.id = r.patient_id WHERE p.time_zone = %s "
                "AND r.send_at <= now() AND r.status <> 'cancelled' GROUP BY r.channel ORDER BY 1",
                [due_at, due_at, peak_zone])
            per_channel = cur.fetchall()
        received_emails = len(set(sink.stop()))
        pushed = len(push.count_by_reminder())
        last = 0.0
        for channel, sent, total, last_s, first_s, states in per_channel:
            last = max(last, float(last_s or 0))
            print(f"  {channel:6} {sent:,} of {total:,} sent ({states}); first claimed {float(first_s or 0):.1f}s "
                  f"after due, last sent {float(last_s or 0):.1f}s after due", flush=True)
        print(f"  the SMTP server received {received_emails:,} messages, the push service {pushed:,}; "
              f"{left:,} rows still pending or sending; push service errors: {push.errors[:3]}", flush=True)
        all_sent = all(sent == total for _, sent, total, *_ in per_channel) and not left
        print_figure(Figure(f"morning peak: {population['peak_rows']:,} reminders of {peak_zone}, due to last sent",
                            last, "s", limit=DUE_GOAL_SECONDS if all_sent else 0.0, limit_value=last,
                            limit_text=f"all sent within {DUE_GOAL_SECONDS:g} s", limit_unit=" s",
                            note=f"{n:,} patients, {population['total_rows']:,} rows; worker -c {args.peak_concurrency}"
                                 + ("" if all_sent else "; NOT ALL SENT")), results)
        print_figure(Figure("API p99 during the morning peak", during.p99_ms, "ms", baseline=before.p99_ms,
                            baseline_name="p99 before the peak", limit=P99_GOAL_MS, limit_value=during.p99_ms,
                            limit_text=f"p99 < {P99_GOAL_MS:g} ms",
                            note=f"{during.rate:,.0f} req/s (before: {before.rate:,.0f}), p50 {during.p50_ms:.1f} ms, "
                                 f"{during.errors} errors; reads and ticks of {LOAD_PATIENTS} patients, offered at {LOAD_RATE} req/s"), results)
    finally:
        for proc in (worker, beat, server):
            if proc is not None:
                proc.stop()
        sink.stop()
        push.stop()
        if not args.keep_db:
            drop_database(DB_NAME)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("morning peak")
    group.add_argument("--peak-patients", type=int, default=100_000, help="followed patients (default 100,000)")
    group.add_argument("--peak-concurrency", type=int, default=4, help="processes of the Celery worker (default 4)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 patients: a smoke test, not figures")
    parser.add_argument("--keep-db", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    require_services()
    results: list[Figure] = []
    run(args, results)
    return results


if __name__ == "__main__":
    main()
