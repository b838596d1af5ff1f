"""Rechecking each taken reminder against the state of things now, and recording what happens to those that must not go out (cancelled, skipped or deferred to the morning)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from checklists.models import Task
from prepapp.lib.bulk import insert_rows
from prepapp.models import SurgeryCase
from prepapp.reminders import digest, family, planning, safety_reminders
from prepapp.reminders.models import PATIENT_RULES, DeliveryAttempt, Reminder
from prepapp.reminders.recording import BatchReport
from prepapp.reminders.timing import is_quiet, quiet_hours_end_after

log = logging.getLogger(__name__)


@dataclass
class Verdict:
    status: str  # cancelled, skipped or pending (deferred)
    reason: str
    send_at: datetime | None = None


def recheck(reminder: Reminder, now: datetime, memo: dict | None = None) -> Verdict | None:
    """Whether this reminder should still go out now: None if yes, else what to do with it.

    `memo`, a dict shared by the calls of one batch (one `now`), keeps what a step's rows, or a
    patient's, have in common: the step's own checks once per step, the patient's channel once
    per channel, the time checks once per send time. Every row still gets every check.
    """
    if reminder.for_family:
        # To a caregiver: the link and the plan first, then the caregiver's own channels and hours.
        problem = family.recheck(reminder, now)
        if problem:
            return Verdict(*problem)
        return _channel_and_time_verdict(reminder, now)
    if reminder.is_digest:
        # A digest: rebuilt from the steps as they are now (digest.py), then the same checks of channel and time.
        problem = digest.recheck(reminder, now)
        if problem:
            return Verdict(*problem)
        return _channel_and_time_verdict(reminder, now)
    task = reminder.task
    if task is None and reminder.rule in PATIENT_RULES and reminder.announcement_id is None:
        # The safety net's own (the evening before, a check-in day, the rules said again).
        problem = safety_reminders.recheck(reminder, now)
        if problem:
            return Verdict(*problem)
        return _channel_and_time_verdict(reminder, now)
    if task is None:
        # An announcement: news of its moment, with no step or rule to recheck. Only the
        # patient's channels count (the in-app copy always stays).
        if reminder.channel != Reminder.Channel.INAPP and not planning.channel_wanted(reminder, reminder.patient):
            return Verdict(Reminder.Status.CANCELLED, "the patient turned this channel off")
        return _time_verdict(reminder, now)
    if memo is None:
        memo = {}
    key = ("step", task.id)
    if key not in memo:
        memo[key] = _step_verdict(reminder, task)
    if memo[key] is not None:
        return memo[key]
    rule = next((r for r in task.definition.reminder_rules if r["key"] == reminder.rule), None)
    if rule is None or planning.anchor_date_for(task, rule) != reminder.anchor_date:
        return Verdict(Reminder.Status.CANCELLED, "plan changed: the task's dates moved")
    # The patient's own row: their channels and hours, the same for every row of theirs.
    patient = reminder.patient
    key = ("channel", patient.pk, reminder.channel)
    if key not in memo:
        memo[key] = planning.channel_wanted(reminder, patient)
    if not memo[key]:
        return Verdict(Reminder.Status.CANCELLED, "the patient turned this channel off")
    key = ("time", patient.pk, reminder.send_at, now)
    if key not in memo:
        memo[key] = _time_verdict(reminder, now)
    return memo[key]


def _step_verdict(reminder: Reminder, task: Task) -> Verdict | None:
    """The checks of a step reminder that depend on its step, surgery and patient only."""
    case = task.checklist.case
    if case.status == SurgeryCase.Status.CANCELLED:
        return Verdict(Reminder.Status.CANCELLED, f"surgery {case.status}")
    if not reminder.patient.is_followed:
        return Verdict(Reminder.Status.CANCELLED, f"patient {reminder.patient.status}")
    # Once the surgery is done the recovery steps go on being reminded; preparing is over.
    if case.status == SurgeryCase.Status.DONE and task.definition.offset_days <= 0:
        return Verdict(Reminder.Status.CANCELLED, "surgery done: a preparation step")
    if task.status != Task.Status.OPEN:
        return Verdict(Reminder.Status.CANCELLED, "task done")
    return None


def _channel_and_time_verdict(reminder: Reminder, now: datetime) -> Verdict | None:
    """The checks every step and digest row gets: the channel still wanted, then `_time_verdict`."""
    if not planning.channel_wanted(reminder, family.recipient_of(reminder)):
        who = "the caregiver" if reminder.for_family else "the patient"
        return Verdict(Reminder.Status.CANCELLED, f"{who} turned this channel off")
    return _time_verdict(reminder, now)


def _time_verdict(reminder: Reminder, now: datetime) -> Verdict | None:
    """Not too late, and not going out inside quiet hours when its time was outside them.

    The quiet hours are the recipient's: the patient's, or for a family row the caregiver's.
    """
    patient = family.recipient_of(reminder)
    max_late = timedelta(hours=settings.REMINDER_MAX_LATENESS_HOURS)
    lateness = now - reminder.send_at
    if lateness > max_late:
        hours = lateness.total_seconds() / 3600
        return Verdict(Reminder.Status.SKIPPED, f"too late: {hours:.1f} h after its time")
    if is_quiet(patient, now) and not is_quiet(patient, reminder.send_at):
        # Its time was outside quiet hours but it is only going out now, inside them
        # (a backlog or an outage): wait for the morning if that is still in time.
        morning = quiet_hours_end_after(patient, now)
        if morning - reminder.send_at <= max_late:
            return Verdict(Reminder.Status.PENDING, "deferred: now inside the recipient's quiet hours", morning)
        return Verdict(Reminder.Status.SKIPPED, "too late: quiet hours began before it could go out")
    return None


def apply_verdicts(dropped: list[tuple[Reminder, Verdict]], taken_at: datetime, now: datetime, report: BatchReport):
    attempts = []
    for reminder, verdict in dropped:
        mine = Reminder.objects.filter(id=reminder.id, status=Reminder.Status.SENDING, claimed_at=taken_at)
        if verdict.status == Reminder.Status.PENDING:
            # Waiting for the morning is not an attempt.
            changed = mine.update(
                status=Reminder.Status.PENDING, send_at=verdict.send_at, claimed_at=None,
                attempts=F("attempts") - 1, last_error=verdict.reason, updated_at=now,
            )
            report.deferred += changed
            outcome = DeliveryAttempt.Outcome.RETRY
        else:
            changed = mine.update(status=verdict.status, last_error=verdict.reason, updated_at=now)
            if verdict.status == Reminder.Status.CANCELLED:
                report.cancelled += changed
            else:
                report.skipped += changed
            outcome = DeliveryAttempt.Outcome.SKIPPED
        if changed:
            detail = verdict.reason if verdict.status != Reminder.Status.CANCELLED else f"cancelled: {verdict.reason}"
            if verdict.send_at:
                detail += f" (until {verdict.send_at:%Y-%m-%d %H:%M} UTC)"
            attempts.append(DeliveryAttempt.row_for(reminder, outcome=outcome, detail=detail, at=now))
    insert_rows(DeliveryAttempt, DeliveryAttempt.ROW_FIELDS, attempts)
