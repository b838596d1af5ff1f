"""The outbox's moving parts: claim due reminders, reclaim lost ones, hand ids to delivery.

The database is the truth. A row moves pending -> sending when a sweeper claims it (in a
short transaction, `SKIP LOCKED` so any number of sweepers can run at once), and the ids
go to the broker only after that transaction commits. A row whose worker vanished stays
in "sending" until its lease runs out; the next sweep puts it back to pending. Nothing is
ever scheduled far ahead in the broker, so flushing Redis loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import fallback
from .models import DeliveryAttempt, Reminder

log = logging.getLogger(__name__)

# Hands one claimed batch to delivery: (channel, ids, claim token). The Celery task module
# passes one that queues a delivery task; tests and benchmarks pass their own.
Enqueue = Callable[[str, list[int], str], None]


def claim_token(claimed_at: datetime) -> str:
    """The claim instant doubles as the claim's identity: a delivery only acts on rows that still carry it."""
    return claimed_at.isoformat()


def parse_token(token: str) -> datetime:
    return datetime.fromisoformat(token)


@dataclass
class SweepReport:
    reclaimed: int = 0
    failed_lost: int = 0
    claimed: int = 0
    batches: dict[str, int] = field(default_factory=dict)


def claim_due(*, limit: int, enqueue: Enqueue, now: datetime | None = None) -> dict[str, list[int]]:
    """Claim up to `limit` due pending reminders and queue them for delivery, one message per channel.

    One short transaction: select with SKIP LOCKED (PostgreSQL; on SQLite the write
    transaction is exclusive), mark the rows "sending" with the claim instant, and send
    the ids to the broker only once that has committed.
    """
    with transaction.atomic():
        now = now or timezone.now()
        qs = Reminder.objects.filter(status=Reminder.Status.PENDING, send_at__lte=now).order_by("send_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        rows = list(qs.values_list("id", "channel")[:limit])
        if not rows:
            return {}
        ids = [row_id for row_id, _ in rows]
        count = Reminder.objects.filter(id__in=ids, status=Reminder.Status.PENDING).update(
            status=Reminder.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        if count != len(ids):
            # Someone else changed some rows between our read and our write (possible only
            # without row locks): keep exactly the rows that now carry our claim.
            claimed = set(
                Reminder.objects.filter(id__in=ids, status=Reminder.Status.SENDING, claimed_at=now).values_list(
                    "id", flat=True
                )
            )
            rows = [row for row in rows if row[0] in claimed]
        by_channel: dict[str, list[int]] = {}
        for row_id, channel in rows:
            by_channel.setdefault(channel, []).append(row_id)
        token = claim_token(now)
        for channel, channel_ids in by_channel.items():
            transaction.on_commit(lambda c=channel, i=channel_ids: enqueue(c, i, token))
    return by_channel


def reclaim_expired(*, now: datetime | None = None) -> tuple[int, int]:
    """Put rows whose lease ran out (their worker died or their message was lost) back to pending.

    A row that has used all its attempts this way is marked failed instead: something
    about it kills workers, and trying forever would only repeat that.
    Returns (reclaimed, failed).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    max_attempts = settings.REMINDER_MAX_ATTEMPTS
    with transaction.atomic():
        lost = Reminder.objects.filter(status=Reminder.Status.SENDING, claimed_at__lt=cutoff)
        exhausted = list(lost.filter(attempts__gte=max_attempts).only("id", "patient_id", "channel"))
        failed = 0
        if exhausted:
            reason = "worker lost while sending, attempts used up"
            failed = Reminder.objects.filter(
                id__in=[r.id for r in exhausted], status=Reminder.Status.SENDING, claimed_at__lt=cutoff
            ).update(
                status=Reminder.Status.FAILED, last_error=reason, lost_claims=F("lost_claims") + 1, updated_at=now
            )
            DeliveryAttempt.objects.bulk_create(
                DeliveryAttempt.for_reminder(r, outcome=DeliveryAttempt.Outcome.FAILED, detail=reason, at=now)
                for r in exhausted
            )
            push_ids = [r.id for r in exhausted if r.channel == Reminder.Channel.PUSH]
            if push_ids:
                fallback_to_email(reminder_ids=push_ids, now=now)
        reclaimed = lost.filter(attempts__lt=max_attempts).update(
            status=Reminder.Status.PENDING, claimed_at=None, last_error="lease expired: worker lost",
            lost_claims=F("lost_claims") + 1, updated_at=now,
        )
    if reclaimed or failed:
        log.warning("reclaimed %s reminders whose lease expired; %s failed for good", reclaimed, failed)
    return reclaimed, failed


def in_flight() -> int:
    return Reminder.objects.filter(status=Reminder.Status.SENDING).count()


def sweep(*, enqueue: Enqueue, now: datetime | None = None) -> SweepReport:
    """One tick: reclaim lost rows, then claim due rows batch by batch, up to the in-flight ceiling.

    The ceiling is back-pressure: when deliveries are slower than the due rows arrive,
    rows wait in the table (where they cost nothing) rather than in the broker (where
    their lease would run out).
    """
    report = SweepReport()
    report.reclaimed, report.failed_lost = reclaim_expired(now=now)
    room = settings.REMINDER_MAX_IN_FLIGHT - in_flight()
    batch_size = settings.REMINDER_BATCH_SIZE
    while room > 0:
        limit = min(batch_size, room)
        by_channel = claim_due(limit=limit, now=now, enqueue=enqueue)
        claimed = sum(len(ids) for ids in by_channel.values())
        for channel, ids in by_channel.items():
            report.batches[channel] = report.batches.get(channel, 0) + 1
        report.claimed += claimed
        room -= claimed
        if claimed < limit:
            break
    return report


def fallback_to_email(*, reminder_ids, now: datetime | None = None) -> int:
    """Plan an email for push reminders that could not be delivered, unless one exists (see fallback.py)."""
    return fallback.plan_email_instead(reminder_ids=reminder_ids, now=now)


def retry_now(*, reminder_ids, now: datetime | None = None) -> int:
    """Give failed or skipped reminders a fresh set of attempts, due now (a coordinator's decision)."""
    now = now or timezone.now()
    with transaction.atomic():
        return Reminder.objects.filter(
            id__in=list(reminder_ids), status__in=[Reminder.Status.FAILED, Reminder.Status.SKIPPED]
        ).update(status=Reminder.Status.PENDING, send_at=now, attempts=0, claimed_at=None, last_error="", updated_at=now)
