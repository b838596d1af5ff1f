"""Riding out a channel's outage: rows that failed because the channel was down wait for it, a probe tries it once per sweep, and the first send that gets through brings every waiting row forward."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from prepapp.reminders import family
from prepapp.reminders.channels import Outcome, Result
from prepapp.reminders.models import Reminder
from prepapp.reminders.timing import first_moment_outside_quiet_hours, is_quiet

log = logging.getLogger(__name__)

# The channels that leave this service (an outage is theirs); the inbox is our own rows.
EXTERNAL_CHANNELS = frozenset({Reminder.Channel.EMAIL, Reminder.Channel.PUSH})


def trailing_transient_failures(results: dict[int, Result]) -> list[int]:
    """The rows that failed for a passing reason with no success after them in the batch.

    Results come in sending order: when the channel goes down, every send from then on fails,
    while a recipient's own trouble is followed by successes. Rows where the far side asked
    for a pause (Retry-After) are not among them: that pause is respected.
    """
    trailing: list[int] = []
    for result in results.values():
        if result.outcome == Outcome.SENT:
            trailing = []
        elif result.outcome == Outcome.RETRY and not result.retry_after:
            trailing.append(result.reminder_id)
    return trailing


def note_channel_state(channel: str, results: dict[int, Result], now: datetime) -> int:
    """Inside the record step's transaction: mark the rows that waited for the channel, and when a
    send got through, bring every row still waiting for this channel forward to now.

    Returns how many waiting rows were brought forward.
    """
    waiting = trailing_transient_failures(results)
    if waiting:
        Reminder.objects.filter(id__in=waiting, status=Reminder.Status.PENDING).update(waiting_for_channel=True)
    elif any(r.outcome == Outcome.SENT for r in results.values()):
        # The channel works at the end of this batch (a success before an outage says nothing).
        return retry_waiting_for_channel(channel=channel, now=now)
    return 0


def probe_waiting_channels(*, now: datetime | None = None) -> int:
    """Once per sweep, for each channel with rows waiting for it and none of them due: bring the
    earliest forward, as a probe. Returns how many probes were made.

    Without it, the first try after an outage would wait for some row's backoff to run out
    (up to REMINDER_RETRY_MAX_SECONDS); with it, it comes within a sweep interval, and its
    success brings every waiting row forward. The probe's try is not counted against the
    row's attempts: it tries the channel on everyone's behalf.
    """
    now = now or timezone.now()
    probes = 0
    # Most sweeps find no row waiting for any channel: one look at the partial index says so,
    # before the per-channel queries (which cost a sweep a few milliseconds each to build).
    waiting_channels = set(
        Reminder.objects.filter(status=Reminder.Status.PENDING, waiting_for_channel=True, channel__in=EXTERNAL_CHANNELS)
        .order_by().values_list("channel", flat=True).distinct()
    )
    for channel in sorted(waiting_channels):
        waiting = Reminder.objects.filter(status=Reminder.Status.PENDING, waiting_for_channel=True, channel=channel)
        if waiting.filter(send_at__lte=now).exists():
            continue  # one is due already: the sweep is about to try the channel anyway
        candidates = (waiting.select_related("patient", "caregiver__caregiver__caregiver_settings")
                      .order_by("send_at")[:20])
        for row in candidates:
            if is_quiet(family.recipient_of(row), now):
                continue
            probes += Reminder.objects.filter(
                id=row.id, status=Reminder.Status.PENDING, waiting_for_channel=True, attempts__gt=0
            ).update(send_at=now, attempts=F("attempts") - 1, updated_at=now)
            break
    return probes


def retry_waiting_for_channel(*, channel: str, now: datetime | None = None) -> int:
    """The channel works again: every row that waited for it is due now (or when its recipient's quiet hours end).

    A row is brought forward at most once per failure (the mark is cleared here and set
    again only by another failure), so a flapping channel cannot spin.
    """
    now = now or timezone.now()
    rows = Reminder.objects.filter(
        status=Reminder.Status.PENDING, waiting_for_channel=True, channel=channel, send_at__gt=now
    )
    waiting = list(
        rows.filter(caregiver__isnull=True).select_related("patient")
        .only("id", "send_at", "caregiver_id", "patient__time_zone", "patient__quiet_hours_start",
              "patient__quiet_hours_end")
    )
    # A caregiver's rows wait for the caregiver's own quiet hours, not the patient's.
    waiting += list(
        rows.filter(caregiver__isnull=False).select_related("patient", "caregiver__caregiver__caregiver_settings")
    )
    by_time: dict[datetime, list[int]] = {}
    for row in waiting:
        when = first_moment_outside_quiet_hours(family.recipient_of(row), now)
        if when < row.send_at:
            by_time.setdefault(when, []).append(row.id)
    moved = 0
    for when, ids in by_time.items():
        moved += Reminder.objects.filter(id__in=ids, status=Reminder.Status.PENDING, waiting_for_channel=True).update(
            send_at=when, waiting_for_channel=False, updated_at=now
        )
    if moved:
        log.info("%s channel works again: %s waiting reminders brought forward", channel, moved)
    return moved
