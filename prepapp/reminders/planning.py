"""Planning reminders: turning tasks and their rules into outbox rows.

The local wall-clock rules (the patient's reminder time, quiet hours, time zone) are
resolved here, once, into a UTC instant per row. Callers run these inside their own
transaction (assign, reschedule, cancel, complete), so the outbox always agrees with
the checklist it was planned from.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from checklists.models import Task
from prepapp.models import Patient

from .models import Reminder

OPEN_STATES = (Reminder.Status.PENDING,)


def in_quiet_hours(moment: time, start: time, end: time) -> bool:
    """True when a wall-clock time falls inside quiet hours (which may span midnight)."""
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def local_send_time(patient: Patient) -> time:
    """The patient's reminder time, moved to the end of quiet hours if it falls inside them."""
    chosen = patient.reminder_time
    if in_quiet_hours(chosen, patient.quiet_hours_start, patient.quiet_hours_end):
        return patient.quiet_hours_end
    return chosen


def to_utc(day: date, wall_time: time, zone: ZoneInfo) -> datetime:
    """A calendar day and wall-clock time where the patient lives, as a UTC instant.

    zoneinfo applies the offset in force on that day, so 09:00 stays 09:00 local on
    both sides of a daylight-saving change. A wall time skipped by a spring-forward
    gap resolves to the same instant as the hour after it.
    """
    return datetime.combine(day, wall_time, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def channels_for(patient: Patient) -> list[str]:
    if not patient.is_followed:
        return []  # discharged or archived: nothing is planned or sent
    channels = []
    if patient.inapp_enabled:
        channels.append(Reminder.Channel.INAPP)
    if patient.push_enabled:
        channels.append(Reminder.Channel.PUSH)
    if patient.email_enabled and patient.contact_email:
        channels.append(Reminder.Channel.EMAIL)
    return channels


def anchor_date_for(task, rule: dict) -> date | None:
    if rule["anchor"] == "window_start":
        if task.window_start is None or task.window_start == task.due_date:
            return None  # no separate opening day: the due-day rules cover it
        return task.window_start + timedelta(days=rule["offset_days"])
    return task.due_date + timedelta(days=rule["offset_days"])


def planned_rows(task, patient: Patient, now: datetime) -> list[Reminder]:
    """The reminder rows one open task should have, from now on."""
    zone = patient.zone
    today = now.astimezone(zone).date()
    wall = local_send_time(patient)
    rows = []
    for rule in task.definition.reminder_rules:
        day = anchor_date_for(task, rule)
        if day is None or day < today:
            continue
        send_at = to_utc(day, wall, zone)
        if send_at < now:
            # Today's reminder time has passed (the step was just assigned or moved):
            # send now, unless now is inside quiet hours.
            if in_quiet_hours(now.astimezone(zone).time(), patient.quiet_hours_start, patient.quiet_hours_end):
                continue
            send_at = now
        for channel in channels_for(patient):
            rows.append(
                Reminder(
                    task=task, patient=patient, rule=rule["key"], channel=channel, anchor_date=day, send_at=send_at
                )
            )
    return rows


def plan_for_tasks(*, tasks, patient: Patient, now: datetime | None = None) -> int:
    """Create the pending reminders of open tasks; rows that already exist are left alone."""
    now = now or timezone.now()
    rows = [row for task in tasks if task.status == Task.Status.OPEN for row in planned_rows(task, patient, now)]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


def cancel_pending(*, tasks=None, patient: Patient | None = None, reason: str = "") -> int:
    """Cancel reminders not yet handed to a channel, for some tasks or for a whole patient."""
    qs = Reminder.objects.filter(status=Reminder.Status.PENDING)
    if tasks is not None:
        qs = qs.filter(task__in=tasks)
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.update(status=Reminder.Status.CANCELLED, last_error=reason, updated_at=timezone.now())


def replan_for_tasks(*, tasks, patient: Patient, now: datetime | None = None) -> int:
    """Bring pending reminders in line with the tasks' current dates and the patient's preferences.

    Pending rows that the new plan no longer contains are cancelled; the rest keep their
    identity and take the new send time. Rows already sent or in flight are not touched.
    """
    now = now or timezone.now()
    tasks = list(tasks)
    wanted = {
        (row.task_id, row.rule, row.channel, row.anchor_date): row
        for task in tasks
        if task.status == Task.Status.OPEN
        for row in planned_rows(task, patient, now)
    }
    # Cancelled rows are looked at too: a task reopened, or a date moved back, revives
    # its row instead of colliding with it on the unique key.
    existing = Reminder.objects.select_for_update().filter(
        task__in=tasks, status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED]
    )
    to_cancel, to_update = [], []
    for row in existing:
        key = (row.task_id, row.rule, row.channel, row.anchor_date)
        if key in wanted:
            new = wanted.pop(key)
            if row.send_at != new.send_at or row.status != Reminder.Status.PENDING:
                row.send_at = new.send_at
                row.status = Reminder.Status.PENDING
                row.last_error = ""
                to_update.append(row)
        elif row.status == Reminder.Status.PENDING:
            to_cancel.append(row.id)
    if to_cancel:
        Reminder.objects.filter(id__in=to_cancel, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.CANCELLED, last_error="plan changed", updated_at=now
        )
    if to_update:
        Reminder.objects.bulk_update(to_update, ["send_at", "status", "last_error"], batch_size=500)
    Reminder.objects.bulk_create(list(wanted.values()), ignore_conflicts=True, batch_size=500)
    return len(wanted) + len(to_update)
