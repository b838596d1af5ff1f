"""Assigning a protocol to many surgeries, and moving many: the same result as one at a time, in
a number of queries that does not grow with the cases, their steps or their reminders.

carol rolls the lumbar-fusion protocol out to her clinic's surgeries, then the surgeon's list
moves a week. One of them was cancelled: the whole batch is refused, naming it, and nothing is
written.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from checklists.models import Checklist, Task
from prepapp.lib import bulk
from prepapp.reminders.models import Announcement, Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import (
    case_book,
    case_cancel,
    case_reschedule,
    cases_reschedule_bulk,
    checklist_assign,
    checklists_assign_bulk,
)

from .factories import days_from_today

pytestmark = pytest.mark.django_db

ZONES = ["America/New_York", "Europe/Madrid", "Australia/Sydney", "UTC"]


def make_cases(riverside, n: int, *, days: int = 40, prefix: str = "p"):
    cases = []
    for i in range(n):
        patient = patient_enrol(
            organization=riverside, full_name=f"Patient {prefix}{i}", contact_email=f"{prefix}{i}@example.org",
            time_zone=ZONES[i % len(ZONES)], smoker=bool(i % 2), takes_nsaids=True,
        )
        cases.append(case_book(patient=patient, procedure="Lumbar fusion", surgery_date=days_from_today(days + i)))
    return cases


def queries(fn) -> int:
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        fn()
    return len(statements)


def plan_of(case) -> tuple:
    """What a case ends up with: its steps' dates, its pending and cancelled reminders (steps,
    digests, announcements) and what it was told, by step key."""
    tasks = sorted(
        (t.definition.key, t.due_date, t.window_start, t.window_end, t.late, t.status)
        for t in Task.objects.filter(checklist__case=case).select_related("definition")
    )
    reminders = sorted(
        (r.task.definition.key if r.task else "", r.rule, r.channel, r.anchor_date, r.send_at, r.status)
        # (each booking was announced when the case was made, at its own moment)
        for r in Reminder.objects.filter(patient=case.patient).exclude(rule="announce-booked")
        .select_related("task__definition")
    )
    told = sorted(
        (a.event, a.old_date, a.new_date, str(a.old_time), str(a.new_time), repr(a.steps))
        for a in Announcement.objects.filter(patient=case.patient).exclude(event="booked")
    )
    return tasks, reminders, told


def test_bulk_assignment_gives_each_case_what_one_assignment_would(riverside, protocol_version, carol):
    bulk_cases = make_cases(riverside, 4, prefix="b")
    one_cases = make_cases(riverside, 4, prefix="o")
    now = timezone.now()  # one clock for both: a step due today is planned for "now"
    assert checklists_assign_bulk(cases=bulk_cases, protocol_version=protocol_version, assigned_by=carol, now=now) == 4
    for case in one_cases:
        checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol, now=now)
    for bulk, one in zip(bulk_cases, one_cases):
        assert Checklist.objects.get(case=bulk).assigned_by == carol
        bulk_plan, one_plan = plan_of(bulk), plan_of(one)
        assert bulk_plan[0] and bulk_plan[1]
        assert bulk_plan == one_plan


def test_bulk_assignment_queries_do_not_grow_with_cases_or_steps(riverside, protocol_version, carol):
    few, many = make_cases(riverside, 2, prefix="f"), make_cases(riverside, 12, prefix="m")
    assert not Reminder.objects.filter(announcement__isnull=True).exists()  # only the bookings' news so far
    few_queries = queries(lambda: checklists_assign_bulk(cases=few, protocol_version=protocol_version))
    many_queries = queries(lambda: checklists_assign_bulk(cases=many, protocol_version=protocol_version))
    # Twelve cases, hundreds of steps and well over a thousand reminders: the same statements as two.
    assert Task.objects.filter(checklist__case__in=many).count() > 12 * 20
    assert Reminder.objects.filter(patient__cases__in=many, announcement__isnull=True).count() > 12 * 5
    assert many_queries == few_queries


def test_bulk_move_gives_each_case_what_one_move_would(riverside, protocol_version, carol):
    bulk_cases = make_cases(riverside, 3, prefix="b")
    one_cases = make_cases(riverside, 3, prefix="o")
    now = timezone.now()
    checklists_assign_bulk(cases=bulk_cases + one_cases, protocol_version=protocol_version, assigned_by=carol, now=now)
    moved = {case: case.surgery_date + timedelta(days=7) for case in bulk_cases}
    assert cases_reschedule_bulk(moves=moved, now=now) == 3
    for case in one_cases:
        case_reschedule(case=case, surgery_date=case.surgery_date + timedelta(days=7), surgery_time=case.surgery_time,
                        now=now)
    for bulk, one in zip(bulk_cases, one_cases):
        bulk.refresh_from_db()
        assert bulk.surgery_date == moved[bulk]
        bulk_plan, one_plan = plan_of(bulk), plan_of(one)
        assert any(status == "cancelled" for *_, status in bulk_plan[1])  # the old dates' rows
        assert any(event == "moved" and steps != "[]" for event, *_, steps in bulk_plan[2])
        assert bulk_plan == one_plan
    # Moving back revives the rows planned for the first dates instead of colliding with them.
    cases_reschedule_bulk(moves={case: date - timedelta(days=7) for case, date in moved.items()})
    for case in bulk_cases:
        assert Reminder.objects.filter(patient=case.patient, announcement__isnull=True, status="pending").exists()


def test_bulk_move_queries_do_not_grow_with_cases_or_steps(riverside, protocol_version):
    few, many = make_cases(riverside, 2, prefix="f"), make_cases(riverside, 12, prefix="m")
    checklists_assign_bulk(cases=few + many, protocol_version=protocol_version)
    few_queries = queries(lambda: cases_reschedule_bulk(moves={c: c.surgery_date + timedelta(days=3) for c in few}))
    many_queries = queries(lambda: cases_reschedule_bulk(moves={c: c.surgery_date + timedelta(days=3) for c in many}))
    assert many_queries == few_queries


def test_a_batch_with_a_case_that_cannot_change_is_refused_whole(riverside, protocol_version, carol):
    cases = make_cases(riverside, 3)
    case_cancel(case=cases[1])
    with pytest.raises(ValidationError) as refused:
        checklists_assign_bulk(cases=cases, protocol_version=protocol_version, assigned_by=carol)
    assert f"case {cases[1].pk}: this surgery is cancelled" in str(refused.value.message_dict["cases"])
    assert not Checklist.objects.filter(case__in=cases).exists()
    assert not Reminder.objects.filter(announcement__isnull=True).exists()

    fine = [cases[0], cases[2]]
    checklists_assign_bulk(cases=fine, protocol_version=protocol_version, assigned_by=carol)
    before = [plan_of(case) for case in fine]
    with pytest.raises(ValidationError) as refused:
        cases_reschedule_bulk(moves={cases[0]: cases[0].surgery_date + timedelta(days=1),
                                     cases[2]: days_from_today(-3)})
    assert f"case {cases[2].pk}" in str(refused.value.message_dict["cases"])
    assert "past" in str(refused.value.message_dict["cases"])
    assert [plan_of(case) for case in fine] == before


def test_a_checklist_the_patient_has_worked_on_is_not_replaced_in_bulk(riverside, protocol_version, carol):
    cases = make_cases(riverside, 2)
    checklists_assign_bulk(cases=cases, protocol_version=protocol_version, assigned_by=carol)
    task = Task.objects.filter(checklist__case=cases[0]).first()
    task.status = Task.Status.DONE
    task.save()
    with pytest.raises(ValidationError) as refused:
        checklists_assign_bulk(cases=cases, protocol_version=protocol_version, assigned_by=carol)
    assert f"case {cases[0].pk}: the patient has already worked on its checklist" in str(refused.value)
    assert Task.objects.filter(pk=task.pk, status=Task.Status.DONE).exists()


def _planner_rows(model) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [model._meta.db_table])
        return cursor.fetchone()[0]


def test_a_large_assignment_refreshes_the_planners_statistics(riverside, protocol_version, monkeypatch):
    """After many new rows the next queries are planned for the tables' new size (ANALYZE at once)."""
    assert not bulk.refresh_statistics([Task], rows_added=bulk.ANALYZE_AFTER_ROWS - 1)  # left to autovacuum
    cases = make_cases(riverside, 2)
    monkeypatch.setattr(bulk, "ANALYZE_AFTER_ROWS", 10)
    # Autovacuum cannot have counted these rows: they are not committed yet.
    checklists_assign_bulk(cases=cases, protocol_version=protocol_version)
    assert _planner_rows(Task) == Task.objects.count()
    assert _planner_rows(Reminder) == Reminder.objects.count()
