"""The outbox's moving parts: claim due reminders, reclaim lost ones, hand ids to delivery.

The database is the truth. A row moves pending -> sending when a sweeper claims it (in a
short transaction, `SKIP LOCKED` so any number of sweepers can run at once), and the ids
go to the broker only after that transaction commits. Nothing is ever scheduled far ahead
in the broker, so flushing Redis loses nothing.

Every claim has a lease (REMINDER_LEASE_SECONDS, 30 s by default). While the batch waits
in the broker, nobody holds it; when a worker takes it, the worker's id goes on the rows and
a heartbeat renews the lease every third of it until the outcome is recorded. A sweep finds
the claims past their lease, so within a lease plus a sweep interval of any fault:

- a batch nobody took (its message was lost with a flushed broker, or sits with a worker that
  died before starting it) is queued again under the same token: whichever copy of the
  message comes first takes the rows, the other finds nothing. Nothing can have been sent.
- a batch a worker took and stopped renewing (the worker died or hung) goes back to pending,
  after the host's send journal has been replayed (`journal.replay`): whatever the journal
  says went out is recorded as sent, and only the rest is tried again, marked as a lost
  claim (a later send on email or push is flagged "possibly sent twice").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from prepapp.reminders import fallback, journal
from prepapp.reminders.models import DeliveryAttempt, Reminder

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
    requeued: int = 0
    claimed: int = 0
    batches: dict[str, int] = field(default_factory=dict)


def lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS)


def _past_lease(now: datetime):
    """Rows in flight whose lease ran out (rows from before leases: their claim is too old)."""
    legacy_cutoff = now - timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    return Reminder.objects.filter(status=Reminder.Status.SENDING).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, claimed_at__lt=legacy_cutoff)
    )


def claim_due(*, limit: int, enqueue: Enqueue, now: datetime | None = None) -> dict[str, list[int]]:
    """Claim up to `limit` due pending reminders and queue them for delivery, in batches of one channel each.

    One short transaction: select with SKIP LOCKED (PostgreSQL; on SQLite the write
    transaction is exclusive), mark the rows "sending" with the claim instant, and send
    the ids to the broker only once that has committed.
    """
    with transaction.atomic():
        now = now or timezone.now()
        rows = _claim(limit, now)
        if not rows:
            return {}
        by_channel: dict[str, list[int]] = {}
        for row_id, channel in rows:
            by_channel.setdefault(channel, []).append(row_id)
        token = claim_token(now)
        for channel, channel_ids in by_channel.items():
            size = batch_size_for(channel)
            for start in range(0, len(channel_ids), size):
                chunk = channel_ids[start:start + size]
                transaction.on_commit(lambda c=channel, i=chunk: enqueue(c, i, token))
    return by_channel


def _claim(limit: int, now: datetime) -> list[tuple[int, str]]:
    """Mark up to `limit` due pending rows "sending" under the claim `now`; their (id, channel), earliest first."""
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(limit, now)
    # SQLite: the write transaction is exclusive, nothing changes between the read and the write.
    due = Reminder.objects.filter(status=Reminder.Status.PENDING, send_at__lte=now).order_by("send_at")
    rows = list(due.values_list("id", "channel")[:limit])
    Reminder.objects.filter(id__in=[row_id for row_id, _ in rows], status=Reminder.Status.PENDING).update(
        status=Reminder.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now,
        lease_until=lease_end(now), holder="", waiting_for_channel=False,
    )
    return rows


def _claim_in_one_statement(limit: int, now: datetime) -> list[tuple[int, str]]:
    """PostgreSQL: lock the due rows (SKIP LOCKED: any number of sweepers at once) and mark
    them in one `UPDATE … RETURNING`, as the benchmark's floor does.

    A read and then an UPDATE of the ids read cost a round trip and a thousand ids sent back,
    a fifth of a claim; Django's update() cannot say RETURNING, hence the SQL. The partial
    index on pending rows by send_at serves the inner SELECT (tests/test_outbox.py).
    """
    quote = connection.ops.quote_name
    table = quote(Reminder._meta.db_table)
    column = {f.name: quote(f.column) for f in Reminder._meta.concrete_fields}
    with connection.cursor() as cursor:
        # Names come from the model; every value is a parameter (bandit B608).
        cursor.execute(
            f"WITH claimed AS (UPDATE {table} SET {column['status']} = %s, {column['claimed_at']} = %s, "  # nosec B608
            f"{column['attempts']} = {column['attempts']} + 1, {column['updated_at']} = %s, "
            f"{column['lease_until']} = %s, {column['holder']} = '', {column['waiting_for_channel']} = false "
            f"WHERE {column['id']} IN (SELECT {column['id']} FROM {table} WHERE {column['status']} = %s "
            f"AND {column['send_at']} <= %s ORDER BY {column['send_at']} LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"RETURNING {column['id']}, {column['channel']}, {column['send_at']}) "
            f"SELECT {column['id']}, {column['channel']} FROM claimed ORDER BY {column['send_at']}, {column['id']}",
            [Reminder.Status.SENDING, now, now, lease_end(now), Reminder.Status.PENDING, now, limit],
        )
        return cursor.fetchall()


def batch_size_for(channel: str) -> int:
    """How many reminders of a channel one delivery task takes (see the settings)."""
    if channel == Reminder.Channel.INAPP:
        return settings.REMINDER_INAPP_BATCH_SIZE
    return settings.REMINDER_BATCH_SIZE


def reclaim_expired(*, now: datetime | None = None) -> tuple[int, int]:
    """Put rows whose worker stopped renewing their lease back to pending (see the module docstring).

    The host's send journal is replayed first, so a row that went out but was never recorded
    is recorded as sent instead of being sent again. A row that has used all its attempts
    this way is marked failed: something about it kills workers, and trying forever would
    only repeat that. Batches that no worker took are not touched here (`requeue_untaken`).
    Returns (reclaimed, failed).
    """
    now = now or timezone.now()
    expiring = set(_past_lease(now).exclude(holder="").values_list("id", flat=True))
    journal.replay(live_ids=expiring)
    max_attempts = settings.REMINDER_MAX_ATTEMPTS
    with transaction.atomic():
        lost = _past_lease(now).exclude(holder="")
        exhausted = list(lost.filter(attempts__gte=max_attempts).only("id", "patient_id", "channel"))
        failed = 0
        if exhausted:
            reason = "worker lost while sending, attempts used up"
            failed = lost.filter(id__in=[r.id for r in exhausted]).update(
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
            status=Reminder.Status.PENDING, claimed_at=None, lease_until=None, last_error="lease expired: worker lost",
            lost_claims=F("lost_claims") + 1, updated_at=now,
        )
    if reclaimed or failed:
        log.warning("reclaimed %s reminders whose lease expired; %s failed for good", reclaimed, failed)
    return reclaimed, failed


def requeue_untaken(*, enqueue: Enqueue, now: datetime | None = None) -> int:
    """Queue again the claimed batches that no worker took within their lease; return how many batches.

    Their message was lost (a flushed or restarted broker) or is stuck with a worker that died
    before starting it, or is merely still waiting behind others. In every case a second copy
    under the same token is safe: the first copy to reach a worker takes the rows, the other
    finds nothing. No attempt is counted and no claim is lost: nothing can have been sent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        stalled = _past_lease(now).filter(holder="")
        if connection.features.has_select_for_update_skip_locked:
            stalled = stalled.select_for_update(skip_locked=True)
        rows = list(stalled.order_by("id").values_list("id", "channel", "claimed_at"))
        if not rows:
            return 0
        batches: dict[tuple[str, datetime], list[int]] = {}
        for row_id, channel, claimed_at in rows:
            batches.setdefault((channel, claimed_at), []).append(row_id)
        Reminder.objects.filter(id__in=[r[0] for r in rows], status=Reminder.Status.SENDING, holder="").update(
            lease_until=lease_end(now), updated_at=now
        )
        for (channel, claimed_at), ids in batches.items():
            token = claim_token(claimed_at)
            transaction.on_commit(lambda c=channel, i=ids, t=token: enqueue(c, i, t))
    log.warning("queued %s batches again (%s reminders) that no worker took within their lease", len(batches), len(rows))
    return len(batches)


class LeaseKeeper:
    """The heartbeat of a batch being sent: renews its rows' lease every third of it, from a thread.

    A thread, so a message that hangs on the network (up to its timeout) does not stop the
    renewals; with a connection of its own, closed when the batch is done. When the database
    is unreachable a renewal is simply skipped: the lease is three renewals long.
    """

    def __init__(self, *, ids: list[int], token: datetime):
        self.ids, self.token = list(ids), token
        self.interval = settings.REMINDER_LEASE_SECONDS / 3
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="reminder-lease", daemon=True)
        self.renewals = 0

    def renew(self) -> int:
        now = timezone.now()
        return Reminder.objects.filter(id__in=self.ids, status=Reminder.Status.SENDING, claimed_at=self.token).update(
            lease_until=lease_end(now)
        )

    def _run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self.renew()
                    self.renewals += 1
                except DatabaseError as exc:
                    log.warning("could not renew the lease of %s reminders: %r", len(self.ids), exc)
                    connection.close()
        finally:
            connection.close()

    def __enter__(self) -> "LeaseKeeper":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()


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
    report.requeued = requeue_untaken(enqueue=enqueue, now=now)
    flying = in_flight()
    room = settings.REMINDER_MAX_IN_FLIGHT - flying
    # Each claim takes up to the largest batch; claim_due cuts it into each channel's batches.
    batch_size = max(settings.REMINDER_BATCH_SIZE, settings.REMINDER_INAPP_BATCH_SIZE)
    smallest = smallest_claim(batch_size)
    while room > 0 and (room >= smallest or not flying):
        limit = min(batch_size, room)
        by_channel = claim_due(limit=limit, now=now, enqueue=enqueue)
        claimed = sum(len(ids) for ids in by_channel.values())
        for channel, ids in by_channel.items():
            batches = -(-len(ids) // batch_size_for(channel))
            report.batches[channel] = report.batches.get(channel, 0) + batches
        report.claimed += claimed
        room -= claimed
        flying += claimed
        if claimed < limit:
            break
    return report


def smallest_claim(batch_size: int) -> int:
    """The least a sweep claims while rows are in flight (a quarter of the ceiling, at most a claim).

    At the ceiling every finished batch asks for a sweep, which would claim just the room that
    batch left and cut it into a sliver per channel: in a morning's backlog that made batches of
    45 to 115 rows, each paying a batch's fixed cost. Waiting for a quarter of the ceiling keeps
    batches whole; the rows wait in the table meanwhile, behind rows already in flight.
    """
    return max(1, min(batch_size, settings.REMINDER_MAX_IN_FLIGHT // 4))


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
