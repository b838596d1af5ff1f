"""Making reminders fall due now, for the delivery tests."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from checklists.models import Task
from prepapp.models import Patient
from prepapp.reminders import delivery, outbox, planning
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


def claim_all(capture) -> list[tuple[str, list[int], str]]:
    """One sweep's claims: (channel, ids, token) for every batch it would queue, after its commit."""
    calls = []
    with capture(execute=True):
        outbox.claim_due(limit=10_000, enqueue=lambda c, i, t: calls.append((c, i, t)))
    return calls


def deliver_all(capture) -> list:
    """One sweep and the deliveries it would queue, run here and now; their reports."""
    return [delivery.deliver_batch(ids=ids, token=token, channel=channel) for channel, ids, token in claim_all(capture)]


def deliver_until_quiet(capture, rounds: int = 3) -> None:
    """Sweep and deliver until nothing more is due (a fallback email, say, is due at once)."""
    for _round in range(rounds):
        if not any(True for _ in deliver_all(capture)):
            return
