"""Email when push did not reach the patient: the "push, and email only when push did not reach me" policy.

Under that policy (the default) email is not planned next to push. A push message that
cannot reach the patient — the push service refused it or failed, the subscription is
gone, there is none, or push is not set up — is handed to email at once: an email row is
planned for now, marked `fallback`, and the push row's log says so. A passing push
failure does not wait hours of retries: push gives way to email straight away. Under
"both", push retries as before and the email planned beside it goes anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from prepapp.models import Patient
from prepapp.reminders.channels import Outcome, Result
from prepapp.reminders.models import DeliveryAttempt, Reminder
from prepapp.reminders.planning import email_reachable

FALLBACK_NOTE = "push did not reach the patient: email sent instead"


def gives_way_to_email(patient: Patient) -> bool:
    """Whether a push message this patient could not get should become an email now."""
    return patient.channel_policy == Patient.ChannelPolicy.PUSH_THEN_EMAIL and email_reachable(patient)


def settle_push_results(rows: list[Reminder], results: dict[int, Result]) -> dict[int, Result]:
    """Turn passing push failures into final ones for patients whose email should take over.

    The rest of delivery then records the push row as failed and plans the email, as for
    any push that failed for good.
    """
    settled = dict(results)
    for reminder in rows:
        result = results.get(reminder.id)
        if result is None or result.outcome != Outcome.RETRY or reminder.channel != Reminder.Channel.PUSH:
            continue
        if reminder.for_family:
            continue  # a caregiver's push and email go side by side: the email is planned already
        if gives_way_to_email(reminder.patient):
            detail = f"{result.detail}; not retried on push" if result.detail else "not retried on push"
            settled[reminder.id] = Result(reminder.id, Outcome.FAILED, detail)
    return settled


def _email_key(row: Reminder) -> tuple:
    if row.announcement_id is not None:
        return ("announcement", row.announcement_id)
    if row.task_id is None:
        return ("digest", row.patient_id, row.rule, row.anchor_date)
    return ("task", row.task_id, row.rule, row.anchor_date)


def plan_email_instead(*, reminder_ids, now: datetime | None = None) -> int:
    """Plan an email, due now, for each push reminder that did not reach its patient; returns how many.

    Only for patients who want email and have an address. The unique keys (task, rule,
    channel, date) and (patient, channel, digest day) mean there is never a second email
    for the same message: an email already planned or sent stays as it is, and one that a
    change of plan cancelled before it went out is revived instead. Each push row whose
    email this plans gets a log entry saying so.
    """
    now = now or timezone.now()
    pushes = [
        row
        # Only the patient's: a caregiver's push and email go side by side (CaregiverSettings).
        for row in Reminder.objects.filter(
            id__in=list(reminder_ids), channel=Reminder.Channel.PUSH, caregiver__isnull=True
        ).select_related(
            "patient"
        )
        if email_reachable(row.patient)
    ]
    if not pushes:
        return 0
    match = Q()
    for row in pushes:
        if row.announcement_id is not None:
            # One email at most per announcement (its own unique key: announcement and channel).
            match |= Q(announcement_id=row.announcement_id)
        elif row.task_id is None:
            # A digest, or one of the safety net's own (its rule names which).
            match |= Q(task__isnull=True, patient_id=row.patient_id, rule=row.rule, anchor_date=row.anchor_date)
        else:
            match |= Q(task_id=row.task_id, rule=row.rule, anchor_date=row.anchor_date)
    existing = {_email_key(e): e for e in Reminder.objects.select_for_update().filter(match, channel=Reminder.Channel.EMAIL)}
    created, revived, handed = [], [], []
    for row in pushes:
        email = existing.get(_email_key(row))
        if email is None:
            created.append(
                Reminder(
                    kind=row.kind, task_id=row.task_id, announcement_id=row.announcement_id,
                    patient_id=row.patient_id, rule=row.rule, channel=Reminder.Channel.EMAIL,
                    anchor_date=row.anchor_date, send_at=now, fallback=True,
                )
            )
            handed.append(row)
        elif email.status == Reminder.Status.CANCELLED and email.sent_at is None:
            revived.append(email.id)
            handed.append(row)
    if created:
        Reminder.objects.bulk_create(created, ignore_conflicts=True)
    if revived:
        Reminder.objects.filter(id__in=revived, status=Reminder.Status.CANCELLED).update(
            status=Reminder.Status.PENDING, send_at=now, attempts=0, claimed_at=None, fallback=True,
            last_error="", updated_at=now,
        )
    # Just after the push row's own outcome (recorded at `now`), so the log reads in order.
    noted_at = now + timedelta(microseconds=1)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt.for_reminder(row, outcome=DeliveryAttempt.Outcome.FALLBACK, detail=FALLBACK_NOTE, at=noted_at)
        for row in handed
    )
    return len(handed)
