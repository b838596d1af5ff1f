"""Moving a patient along the surgical journey in a test: the surgery as if it had been some days ago."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F

from checklists.models import Task
from prepapp.models import SurgeryCase
from prepapp.reminders.models import Reminder


def surgery_was(case: SurgeryCase, *, days_ago: int) -> SurgeryCase:
    """Shift the surgery, its steps' dates and its planned reminders so the surgery was `days_ago` days ago.

    Bookings refuse past dates, and the clock cannot be stopped in a live server: instead the
    whole plan moves back in time together, as if the patient had been booked and had lived
    through the days in between without ticking anything off.
    """
    case.refresh_from_db()
    shift = timedelta(days=(case.surgery_date - case.patient.local_today()).days + days_ago)
    SurgeryCase.objects.filter(pk=case.pk).update(surgery_date=F("surgery_date") - shift)
    tasks = Task.objects.filter(checklist__case=case)
    tasks.update(due_date=F("due_date") - shift)
    tasks.filter(window_start__isnull=False).update(
        window_start=F("window_start") - shift, window_end=F("window_end") - shift
    )
    Reminder.objects.filter(task__checklist__case=case).update(
        anchor_date=F("anchor_date") - shift, send_at=F("send_at") - shift
    )
    case.refresh_from_db()
    return case
