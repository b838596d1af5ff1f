"""Planning reminders for many patients at once: planning.py's rules, in a fixed number of queries per batch.

For the bulk workflows (assigning checklists to many cases, moving many surgeries): each task
comes with its definition, and its checklist's case and patient, in memory; each patient's
tasks are all the open steps of their scheduled surgery. The rows wanted are the same as
planning.py's for each patient; only the reading and writing is done in batches, with the
existing rows read as plain values.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from checklists.models import Task
from prepapp.lib.bulk import bulk_update_rows
from prepapp.models import Patient
from prepapp.reminders.models import DIGEST_RULE, Alert, Reminder
from prepapp.reminders.planning import per_step_rows, planned_digest_rows

BULK_BATCH_SIZE = 5000


def _by_patient(tasks) -> dict[int, tuple[Patient, list]]:
    grouped: dict[int, tuple[Patient, list]] = {}
    for task in tasks:
        patient = task.checklist.case.patient
        grouped.setdefault(patient.pk, (patient, []))[1].append(task)
    return grouped


def _cancel_rows(ids: list[int], now: datetime) -> None:
    for start in range(0, len(ids), BULK_BATCH_SIZE):
        Reminder.objects.filter(id__in=ids[start:start + BULK_BATCH_SIZE], status=Reminder.Status.PENDING).update(
            status=Reminder.Status.CANCELLED, last_error="plan changed", updated_at=now
        )


def replan_digests_bulk(*, tasks_of: dict[int, tuple[Patient, list]], now: datetime | None = None) -> int:
    """replan_digests for many patients, given each one's open steps."""
    now = now or timezone.now()
    alerted = set(
        Alert.objects.filter(patient_id__in=list(tasks_of), acknowledged_at__isnull=True, task__status=Task.Status.OPEN)
        .values_list("patient_id", flat=True)
    )
    wanted = {}
    for patient_id, (patient, tasks) in tasks_of.items():
        open_tasks = [t for t in tasks if t.status == Task.Status.OPEN]
        for row in planned_digest_rows(tasks=open_tasks, patient=patient, now=now, open_alert=patient_id in alerted):
            wanted[(patient_id, row.channel, row.anchor_date)] = row
    existing = (
        Reminder.objects.select_for_update()
        .filter(patient_id__in=list(tasks_of), task__isnull=True, rule=DIGEST_RULE, fallback=False,
                status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED])
        .values_list("id", "patient_id", "channel", "anchor_date", "send_at", "status")
    )
    today_of = {pk: now.astimezone(patient.zone).date() for pk, (patient, _) in tasks_of.items()}
    to_cancel, to_update = [], []
    for rid, patient_id, channel, anchor_date, send_at, status in existing:
        new = wanted.pop((patient_id, channel, anchor_date), None)
        if new is not None:
            if send_at != new.send_at or status != Reminder.Status.PENDING:
                to_update.append(Reminder(id=rid, send_at=new.send_at, status=Reminder.Status.PENDING, last_error=""))
        elif status == Reminder.Status.PENDING and anchor_date >= today_of[patient_id]:
            to_cancel.append(rid)
    _cancel_rows(to_cancel, now)
    bulk_update_rows(Reminder, to_update, ["send_at", "status", "last_error"], batch_size=BULK_BATCH_SIZE)
    Reminder.objects.bulk_create(list(wanted.values()), ignore_conflicts=True, batch_size=BULK_BATCH_SIZE)
    return len(wanted) + len(to_update)


def plan_bulk(*, tasks, now: datetime | None = None) -> int:
    """plan_for_tasks for the tasks of many patients."""
    now = now or timezone.now()
    tasks_of = _by_patient(tasks)
    rows = [row for patient, own in tasks_of.values() for row in per_step_rows(own, patient, now)]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=BULK_BATCH_SIZE)
    return len(rows) + replan_digests_bulk(tasks_of=tasks_of, now=now)


def replan_bulk(*, tasks, now: datetime | None = None) -> int:
    """replan_for_tasks for the tasks of many patients: the same rules, rows read as plain values."""
    now = now or timezone.now()
    tasks_of = _by_patient(tasks)
    wanted = {
        (row.task_id, row.rule, row.channel, row.anchor_date): row
        for patient, own in tasks_of.values()
        for row in per_step_rows(own, patient, now)
    }
    existing = (
        Reminder.objects.select_for_update()
        .filter(task__in=[t.id for t in tasks], status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED],
                fallback=False)
        .values_list("id", "task_id", "rule", "channel", "anchor_date", "send_at", "status")
    )
    to_cancel, to_update = [], []
    for rid, task_id, rule, channel, anchor_date, send_at, status in existing:
        new = wanted.pop((task_id, rule, channel, anchor_date), None)
        if new is not None:
            if send_at != new.send_at or status != Reminder.Status.PENDING:
                to_update.append(Reminder(id=rid, send_at=new.send_at, status=Reminder.Status.PENDING, last_error=""))
        elif status == Reminder.Status.PENDING:
            to_cancel.append(rid)
    _cancel_rows(to_cancel, now)
    bulk_update_rows(Reminder, to_update, ["send_at", "status", "last_error"], batch_size=BULK_BATCH_SIZE)
    Reminder.objects.bulk_create(list(wanted.values()), ignore_conflicts=True, batch_size=BULK_BATCH_SIZE)
    return len(wanted) + len(to_update) + replan_digests_bulk(tasks_of=tasks_of, now=now)
