"""Bulk assignment and moves: `python -m bench.bulk` (part of `make bench`).

Builds N scheduled surgeries (patients in four time zones, reminders in the app only: about
70 per case), then times, with their SQL statements counted:

  assign     checklists_assign_bulk: the shipped protocol to every case (steps and reminders);
  move       cases_reschedule_bulk: every surgery a week later (steps re-dated, reminders re-planned);

at 1,000 and 10,000 cases, next to the same-run baseline of doing it one case at a time
(checklist_assign / case_reschedule on a sample of cases). Per case: milliseconds and statements.
"""

from __future__ import annotations

import argparse
import io
import os
import time
import uuid
from datetime import date, timedelta

from bench.common import Figure, drop_database, print_figure, recreate_database, require_services, scratch

DB_NAME = scratch("bench_bulk")
ZONES = ["America/New_York", "Europe/Madrid", "Australia/Sydney", "UTC"]
SAMPLE = 50  # cases done one at a time, for the baseline
# In-app reminders only (about 70 per case): with push and email as well there are three times
# the rows, and 10,000 cases would take most of the benchmark's quarter of an hour on their own.
CHANNELS = {"push_enabled": False, "email_enabled": False, "contact_email": ""}


def setup() -> None:
    import django

    recreate_database(DB_NAME)
    os.environ["BENCH_DB_NAME"] = DB_NAME
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATABASES["default"]["NAME"] = DB_NAME
    call_command("migrate", verbosity=0)
    call_command("load_protocols", stdout=io.StringIO())


def make_cases(n: int) -> list[int]:
    """N patients with a scheduled surgery each, inserted in bulk (enrolling takes longer than what is measured)."""
    from django.contrib.auth import get_user_model

    from prepapp.models import Organization, Patient, SurgeryCase

    tag = uuid.uuid4().hex[:6]
    org = Organization.objects.create(name=f"Bulk clinic {tag}", slug=f"bulk-{tag}")
    users = get_user_model().objects.bulk_create(
        (get_user_model()(username=f"bulk-{tag}-{i}") for i in range(n)), batch_size=5000
    )
    patients = Patient.objects.bulk_create(
        (Patient(organization=org, user=u, full_name=f"Bulk {i}", time_zone=ZONES[i % len(ZONES)],
                 smoker=bool(i % 2), takes_nsaids=bool(i % 3), weight_kg=70 + i % 30, **CHANNELS)
         for i, u in enumerate(users)),
        batch_size=5000,
    )
    surgery = date.today() + timedelta(days=45)
    cases = SurgeryCase.objects.bulk_create(
        (SurgeryCase(patient=p, procedure="Lumbar fusion", surgery_date=surgery + timedelta(days=i % 20))
         for i, p in enumerate(patients)),
        batch_size=5000,
    )
    return [c.pk for c in cases]


def timed(fn) -> tuple[float, int]:
    """Seconds and SQL statements of one call."""
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
    return elapsed, statements


def one_at_a_time(version, ids) -> dict:
    from prepapp.models import SurgeryCase
    from prepapp.workflows import case_reschedule, checklist_assign

    cases = list(SurgeryCase.objects.filter(pk__in=ids))
    assign = timed(lambda: [checklist_assign(case=c, protocol_version=version) for c in cases])
    move = timed(lambda: [case_reschedule(case=c, surgery_date=c.surgery_date + timedelta(days=7)) for c in cases])
    return {"assign": assign, "move": move, "n": len(cases)}


def run(args, results: list[Figure]) -> None:
    setup()
    from checklists.models import Protocol, Task
    from prepapp.models import SurgeryCase
    from prepapp.reminders.models import Reminder
    from prepapp.workflows import cases_reschedule_bulk, checklists_assign_bulk

    version = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    try:
        sample = make_cases(SAMPLE if not args.quick else 10)
        single = one_at_a_time(version, sample)
        per_assign = single["assign"][0] / single["n"] * 1000
        per_move = single["move"][0] / single["n"] * 1000
        print(f"  one case at a time ({single['n']} cases): assign {per_assign:.1f} ms and "
              f"{single['assign'][1] / single['n']:.1f} statements per case, move {per_move:.1f} ms and "
              f"{single['move'][1] / single['n']:.1f} statements per case", flush=True)
        sizes = [20, 100] if args.quick else [1000, 10_000]
        per_case = {}
        for n in sizes:
            ids = make_cases(n)
            assign_s, assign_q = timed(lambda: checklists_assign_bulk(cases=ids, protocol_version=version))
            tasks = Task.objects.filter(checklist__case_id__in=ids).count()
            reminders = Reminder.objects.filter(task__checklist__case_id__in=ids).count()
            moves = {c.pk: c.surgery_date + timedelta(days=7) for c in SurgeryCase.objects.filter(pk__in=ids)}
            move_s, move_q = timed(lambda: cases_reschedule_bulk(moves=moves))
            print(f"  {n:,} cases: {tasks:,} steps and {reminders:,} reminders planned; "
                  f"assign {assign_s:.1f}s in {assign_q:,} statements, move {move_s:.1f}s in {move_q:,} statements",
                  flush=True)
            per_case[n] = (assign_s / n * 1000, move_s / n * 1000)
            print_figure(Figure(f"bulk assign, {n:,} cases", assign_s / n * 1000, "ms/case", baseline=per_assign,
                                baseline_name="one at a time", note=f"{assign_q / n:.3f} statements per case"),
                         results)
            print_figure(Figure(f"bulk move, {n:,} cases", move_s / n * 1000, "ms/case", baseline=per_move,
                                baseline_name="one at a time", note=f"{move_q / n:.3f} statements per case"),
                         results)
            results.append(Figure(f"bulk statements per case, {n:,} cases", (assign_q + move_q) / n, "statements",
                                  goal=None, note="assign + move"))
        small, large = sizes
        for i, name in enumerate(("assign", "move")):
            # Flat: a case costs no more in a batch of 10,000 than in a batch of 1,000.
            print_figure(Figure(f"bulk {name} per-case time, {large:,} vs {small:,} cases", per_case[large][i], "ms/case",
                                baseline=per_case[small][i], baseline_name=f"{small:,} cases",
                                goal=None, note="flat is 1.0"), results)
    finally:
        if not args.keep_db:
            drop_database(DB_NAME)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 and 100 cases: a smoke test, not figures")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    require_services()
    results: list[Figure] = []
    run(args, results)
    return results


if __name__ == "__main__":
    main()
