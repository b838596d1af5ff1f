"""The reminder engine's time rules, in one place.

Quiet hours, a wall-clock time where the patient lives as a UTC instant (09:00 stays 09:00
across daylight-saving changes), when a message may go out, and when to try again after a
failed send (backoff with jitter, capped, never inside quiet hours). Planning, delivery,
announcements and the outage handling all ask here.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from prepapp.models import Patient

MAX_RETRY_DELAY = timedelta(hours=6)


def quiet_hours_end_after(patient: Patient, moment: datetime) -> datetime:
    """The first end of the patient's quiet hours after a moment, as a UTC instant."""
    zone = patient.zone
    day = moment.astimezone(zone).date()
    for offset in (0, 1, 2):
        candidate = to_utc(day + timedelta(days=offset), patient.quiet_hours_end, zone)
        if candidate > moment:
            return candidate
    return moment  # unreachable: an end time recurs every day


def is_quiet(patient: Patient, moment: datetime) -> bool:
    return in_quiet_hours(
        moment.astimezone(patient.zone).time(), patient.quiet_hours_start, patient.quiet_hours_end
    )


def next_attempt_at(*, attempts: int, now: datetime, patient: Patient, retry_after: float | None = None) -> datetime:
    """Exponential backoff with jitter, capped, at least what the far side asked for, never in quiet hours."""
    delay = timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(0, min(attempts - 1, 20)))
    # Jitter spreads retries out; nothing here needs to be unpredictable (bandit B311).
    delay = min(delay, MAX_RETRY_DELAY) * random.uniform(0.5, 1.5)  # nosec B311
    # The cap holds after the jitter: after an outage no row waits longer than this for its turn.
    delay = min(delay, timedelta(seconds=settings.REMINDER_RETRY_MAX_SECONDS))
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    when = now + delay
    if is_quiet(patient, when):
        when = quiet_hours_end_after(patient, when)
    return when


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


def first_moment_outside_quiet_hours(patient: Patient, moment: datetime) -> datetime:
    """The moment itself, or the end of the patient's quiet hours if it falls inside them."""
    return quiet_hours_end_after(patient, moment) if is_quiet(patient, moment) else moment
