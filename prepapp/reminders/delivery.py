"""Delivering one batch of claimed reminders: recheck, send, record, then retry or fall back.

The steps, for a batch of ids that a sweeper claimed with a given token:

1. Take (one short transaction). Lock the surgery cases and tasks the recheck reads, in
   the order the services lock them, move the rows' claim to a fresh token (a stale or
   duplicated broker message finds nothing left to take), and recheck each row against
   the current state: task still open, surgery still scheduled, the rule still gives the
   same date, the channel still wanted, not too late, not in quiet hours. Rows that fail
   are cancelled, skipped or deferred here, before anything is sent.
2. Send, outside any transaction and holding no lock (network I/O), within a time budget.
   The in-app channel is the exception: it only writes our own rows, so it runs inside
   step 1's transaction and is sent-and-recorded or neither.
3. Record (one short transaction): sent, retry later (the row goes back to pending with
   a later send_at: the database, not the broker, holds the retry), failed after the
   last attempt, or skipped; a push that cannot reach the patient falls back to email.
   Every status change is a compare-and-set on the token taken in step 1, so when the
   database connection drops during this step it is simply tried again (a few times,
   shortly apart, on a fresh connection): a repeat cannot record anything twice.

A reminder sent on an external channel (email, push) after an earlier claim of it was
lost (its lease ran out: the worker may have handed it over before it vanished) gets a log
entry marked `possible_duplicate`. Email carries a stable Message-ID and push a stable
Topic and tag per reminder, so a repeat replaces rather than adds where the far side can.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from prepapp.reminders import channels, claims, fallback, journal, outbox, recheck, recording
from prepapp.reminders.channels import Outcome, Outgoing, Result, Transport
from prepapp.reminders.compose import compose
from prepapp.reminders.models import Reminder
from prepapp.reminders.recording import BatchReport

log = logging.getLogger(__name__)

# --- Step 2: send ------------------------------------------------------------------------


def _send(transport: Transport, items: list[Outgoing], budget_seconds: float) -> dict[int, Result]:
    """Run the transport until it is done or the time budget is spent; unsent rows get no result."""
    results: dict[int, Result] = {}
    deadline = monotonic_time.monotonic() + budget_seconds
    stream = transport.send(items)
    try:
        for result in stream:
            results[result.reminder_id] = result
            if monotonic_time.monotonic() > deadline:
                log.warning("delivery batch out of time after %s of %s reminders", len(results), len(items))
                break
    except SoftTimeLimitExceeded:
        log.warning("delivery batch hit the soft time limit after %s of %s", len(results), len(items))
    except Exception as exc:  # a bug or an unexpected library error: retry the rest later
        log.exception("transport %s crashed", transport.channel)
        for item in items:
            results.setdefault(item.reminder.id, Result(item.reminder.id, Outcome.RETRY, f"error: {exc!r}"[:500]))
    finally:
        stream.close()
    return results


# --- The whole batch ---------------------------------------------------------------------


def deliver_batch(*, ids: list[int], token: str, channel: str) -> BatchReport:
    """Deliver the reminders a sweeper claimed under `token` on one channel (see the module docstring)."""
    transport = channels.for_channel(channel)
    claim = outbox.parse_token(token)
    report = BatchReport()
    with transaction.atomic():
        taken_at, rows = claims.take(ids, claim, in_one_transaction=transport.transactional)
        if not rows:
            return report
        report.taken = len(rows)
        # The token is the claim itself when the rows were only locked: the time is read anew.
        now = taken_at if taken_at != claim else timezone.now()
        dropped, ready = [], []
        checked: dict = {}  # what a step's or a patient's rows share, checked once for the batch
        for reminder in rows:
            verdict = recheck.recheck(reminder, now, checked)
            if verdict:
                dropped.append((reminder, verdict))
            else:
                ready.append(reminder)
        recheck.apply_verdicts(dropped, taken_at, now, report)
        words: dict = {}  # each step's words, worded once for the batch
        items = [Outgoing(reminder, compose(reminder, now, memo=words, with_receipt=transport.uses_receipts))
                 for reminder in ready]
        if transport.transactional:
            _commit_without_waiting_for_disk()
            recording.record_in_transaction(transport, items, taken_at, report)
            return report
    if not items:
        return report
    _send_and_record(transport, ready, items, taken_at, report)
    return report


def _commit_without_waiting_for_disk() -> None:
    """Let this transaction's commit return before its WAL reaches the disk (PostgreSQL).

    Only for a channel that writes nothing but our own rows (the inbox): the messages and the
    "sent" status commit together, so a crash just after the commit can lose both, and the
    claim then runs out and the batch is delivered again; it can never deliver twice. The
    flush at commit was a tenth of an in-app batch. Email and push never use it: a lost
    "sent" after the message went out would send it again.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")



# --- Riding out faults: the journal, the heartbeat, the channel coming back ---------------


class _Journaled(Transport):
    """A transport whose every accepted message is noted in this process's journal as it goes."""

    def __init__(self, inner: Transport, token: datetime):
        self.inner, self.token, self.channel = inner, token, inner.channel

    def send(self, items: list[Outgoing]):
        own = journal.current()
        stream = self.inner.send(items)
        try:
            for result in stream:
                if result.outcome == Outcome.SENT:
                    entry = journal.Entry(result.reminder_id, self.token, self.channel, timezone.now(), result.detail)
                    try:
                        own.write(entry)
                    except OSError:
                        # The message is out already; recording it below is still the normal path.
                        log.exception("could not note reminder %s in the journal", result.reminder_id)
                yield result
        finally:
            stream.close()


def _send_and_record(transport: Transport, ready: list[Reminder], items: list[Outgoing], taken_at: datetime,
                     report: BatchReport) -> None:
    """Steps 2 and 3 for an external channel, under a heartbeat, with each send noted in the journal.

    The journal is fsync'ed before the record step. When recording fails for good (the
    database stays unreachable past the record step's retries) the journal keeps the sends:
    the next replay records them, and no lease that runs out meanwhile sends them again.
    """
    own = journal.current()
    own.open()  # before anything goes out: a send that could not be noted would not be safe
    had_lines = own.lines
    budget = settings.CELERY_TASK_SOFT_TIME_LIMIT * 0.6
    with outbox.LeaseKeeper(ids=[r.id for r in ready], token=taken_at):
        results = _send(_Journaled(transport, taken_at), items, budget)
        own.sync()
        if ready[0].channel == Reminder.Channel.PUSH:
            # Under "push, then email", a push that did not get through gives way to email now.
            results = fallback.settle_push_results(ready, results)
        recording.record_with_retries(ready, results, taken_at, report)
    if had_lines or report.lost:
        # Earlier lines from a batch that could not record, or sends whose rows a reclaim took
        # away meanwhile (pending again: the journal marks them sent before they go twice).
        journal.replay()
    else:
        own.clear()



def more_due(now: datetime | None = None) -> bool:
    """Whether due rows are waiting (cheap: the partial index on pending rows)."""
    return Reminder.objects.filter(status=Reminder.Status.PENDING, send_at__lte=now or timezone.now()).exists()
