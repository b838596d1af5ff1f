"""Announcements: news for the patient that is not about one step (the surgery booked, moved, cancelled).

An announcement is written to the outbox like any reminder, one row per channel, so it is
claimed, rechecked, delivered, retried and logged with the same guarantees: at most once
per announcement and channel. The in-app copy always goes; push and email follow the
patient's choices. The rows fall due at once (or when the patient's quiet hours end), and
once the transaction commits the sweeper is asked to look now instead of at its next tick.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from prepapp.models import Patient, SurgeryCase
from prepapp.reminders import planning, timing
from prepapp.reminders.models import Announcement, Reminder
from prepapp.reminders.tasks import sweep_due_reminders

log = logging.getLogger(__name__)


def announcement_channels(patient: Patient) -> list[str]:
    """The in-app inbox always; push and email as the patient chose (email only with an address)."""
    return [Reminder.Channel.INAPP] + [c for c in planning.channels_for(patient) if c != Reminder.Channel.INAPP]


def send_at_for(patient: Patient, channel: str, now: datetime) -> datetime:
    """Now; for a channel that reaches the patient's phone or mailbox, not before their quiet hours end."""
    if channel == Reminder.Channel.INAPP:
        return now
    return timing.first_moment_outside_quiet_hours(patient, now)


def announce(
    *,
    patient: Patient,
    event: str,
    case: SurgeryCase | None = None,
    old_date: date | None = None,
    old_time: time | None = None,
    new_date: date | None = None,
    new_time: time | None = None,
    steps: list[dict] | None = None,
    now: datetime | None = None,
) -> Announcement:
    """Record an announcement and its outbox rows (inside the caller's transaction)."""
    now = now or timezone.now()
    announcement = Announcement.objects.create(
        patient=patient, case=case, event=event, old_date=old_date, old_time=old_time,
        new_date=new_date, new_time=new_time, steps=steps or [], created_at=now,
    )
    today = patient.local_today(now)
    Reminder.objects.bulk_create(
        Reminder(
            kind=Reminder.Kind.ANNOUNCEMENT, announcement=announcement, patient=patient, rule=f"announce-{event}",
            channel=channel, anchor_date=today, send_at=send_at_for(patient, channel, now),
        )
        for channel in announcement_channels(patient)
    )
    transaction.on_commit(_look_now)
    return announcement


def _look_now() -> None:
    try:
        sweep_due_reminders.delay()
    except Exception as exc:  # the broker is down: beat's next sweep still finds the rows in the table
        log.warning("could not ask for a sweep after an announcement (%s); the next tick sends it", exc)


def announce_bulk(items: list[dict], *, now: datetime | None = None) -> int:
    """announce() for many patients at once (inside the caller's transaction): two inserts for them all.

    Each item holds announce()'s arguments (patient and event, and case, dates, times, steps).
    """
    if not items:
        return 0
    now = now or timezone.now()
    announcements = Announcement.objects.bulk_create(
        [
            Announcement(
                patient=item["patient"], case=item.get("case"), event=item["event"], old_date=item.get("old_date"),
                old_time=item.get("old_time"), new_date=item.get("new_date"), new_time=item.get("new_time"),
                steps=item.get("steps") or [], created_at=now,
            )
            for item in items
        ],
        batch_size=2000,
    )
    Reminder.objects.bulk_create(
        [
            Reminder(
                kind=Reminder.Kind.ANNOUNCEMENT, announcement=announcement, patient=announcement.patient,
                rule=f"announce-{announcement.event}", channel=channel,
                anchor_date=announcement.patient.local_today(now),
                send_at=send_at_for(announcement.patient, channel, now),
            )
            for announcement in announcements
            for channel in announcement_channels(announcement.patient)
        ],
        batch_size=5000,
    )
    transaction.on_commit(_look_now)
    return len(announcements)
