"""Making reminders fall due now, for the delivery tests."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from checklists.models import Task
from prepapp.models import Patient
from prepapp.reminders import planning
from prepapp.reminders.models import Reminder


def no_quiet_hours(*patients: Patient):
    """Tests run at any hour: turn quiet hours off so the clock of the run does not matter."""
    Patient.objects.filter(pk__in=[p.pk for p in patients]).update(quiet_hours_start=time(0), quiet_hours_end=time(0))
    for p in patients:
        p.refresh_from_db()


def make_due(patient: Patient, *, channels=None, ago: timedelta = timedelta(seconds=5), limit: int | None = None) -> list[Reminder]:
    """Replace the patient's planned reminders with one due row per (open task, rule, channel).

    Each row's anchor date is the one the rule gives for the task's current dates, so the
    delivery recheck lets it through; only its send_at is moved to just now.
    """
    Reminder.objects.filter(patient=patient).delete()
    channels = channels or planning.channels_for(patient)
    now = timezone.now()
    rows = []
    tasks = Task.objects.filter(checklist__case__patient=patient, status=Task.Status.OPEN).select_related("definition")
    for task in tasks.order_by("id"):
        for rule in task.definition.reminder_rules:
            day = planning.anchor_date_for(task, rule)
            if day is None:
                continue
            for channel in channels:
                rows.append(Reminder(task=task, patient=patient, rule=rule["key"], channel=channel, anchor_date=day,
                                     send_at=now - ago))
    if limit is not None:
        rows = rows[:limit]
    return Reminder.objects.bulk_create(rows)
