"""Recording a sent batch (delivery step 3): sent, retry later, failed, skipped; every change a compare-and-set on the claim, tried again when the database connection drops."""

from __future__ import annotations

import logging
import time as monotonic_time
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.db.models import Case, DateTimeField, F, TextField, Value, When
from django.utils import timezone

from prepapp.lib.bulk import insert_rows
from prepapp.reminders import family, outages, outbox
from prepapp.reminders.channels import Outcome, Result
from prepapp.reminders.models import DeliveryAttempt, Reminder
from prepapp.reminders.outages import EXTERNAL_CHANNELS
from prepapp.reminders.timing import next_attempt_at

log = logging.getLogger(__name__)


# Pauses before trying the record step again after the database connection failed (seconds).
RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0)
POSSIBLE_DUPLICATE_NOTE = "sent; an earlier attempt may also have been delivered (worker lost)"


@dataclass
class BatchReport:
    taken: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    deferred: int = 0
    released: int = 0
    fallbacks: int = 0
    lost: int = 0  # sent, but the row had been taken away meanwhile (lease ran out)
    brought_forward: int = 0  # rows that waited for this channel, due now that a send got through


# --- Step 3: record ----------------------------------------------------------------------


def _per_row(values: dict[int, object], output_field) -> Case:
    """One UPDATE that sets a different value on each row: CASE id WHEN … THEN … END."""
    return Case(*(When(id=row_id, then=Value(value)) for row_id, value in values.items()), output_field=output_field)


def record(rows: list[Reminder], results: dict[int, Result], taken_at: datetime, report: BatchReport) -> None:
    """Record every outcome of the batch: one UPDATE per outcome group, one INSERT for the log."""
    now = timezone.now()
    max_attempts = settings.REMINDER_MAX_ATTEMPTS

    def mine(ids):
        return Reminder.objects.filter(id__in=list(ids), status=Reminder.Status.SENDING, claimed_at=taken_at)

    sent: list[int] = []
    duplicate_notes: dict[int, str] = {}  # sent rows an earlier, lost claim may also have delivered
    released: list[int] = []  # never handed to the channel (time budget spent)
    retry_at: dict[int, datetime] = {}
    errors: dict[int, str] = {}
    failed: list[int] = []
    unavailable: list[int] = []  # not a failed attempt: this channel cannot reach the patient at all
    entries: list[tuple] = []  # the delivery log's rows
    for reminder in rows:
        result = results.get(reminder.id)
        if result is None:
            released.append(reminder.id)
            continue
        detail = result.detail[:2000]
        outcome = DeliveryAttempt.Outcome.SENT
        possible_duplicate = False
        if result.outcome == Outcome.SENT:
            sent.append(reminder.id)
            if reminder.lost_claims and reminder.channel in EXTERNAL_CHANNELS:
                possible_duplicate = True
                detail = f"{POSSIBLE_DUPLICATE_NOTE}; {detail}" if detail else POSSIBLE_DUPLICATE_NOTE
                duplicate_notes[reminder.id] = detail
        elif result.outcome == Outcome.RETRY and reminder.attempts < max_attempts:
            when = next_attempt_at(
                attempts=reminder.attempts, now=now, patient=family.recipient_of(reminder), retry_after=result.retry_after
            )
            retry_at[reminder.id], errors[reminder.id] = when, detail
            outcome = DeliveryAttempt.Outcome.RETRY
            detail = f"{detail} (attempt {reminder.attempts} of {max_attempts}; next at {when:%Y-%m-%d %H:%M:%S} UTC)"
        elif result.outcome in (Outcome.RETRY, Outcome.FAILED):
            if result.outcome == Outcome.RETRY:
                detail = f"{detail} (gave up after {reminder.attempts} attempts)"
            failed.append(reminder.id)
            errors[reminder.id] = detail
            outcome = DeliveryAttempt.Outcome.FAILED
        elif result.outcome == Outcome.UNAVAILABLE:
            unavailable.append(reminder.id)
            errors[reminder.id] = detail
            outcome = DeliveryAttempt.Outcome.SKIPPED
        entries.append(
            DeliveryAttempt.row_for(reminder, outcome=outcome, detail=detail, at=now, possible_duplicate=possible_duplicate)
        )

    if sent:
        # A possible duplicate keeps its note in last_error; a clean send clears it.
        last_error = _per_row({i: duplicate_notes.get(i, "") for i in sent}, TextField()) if duplicate_notes else ""
        changed = mine(sent).update(status=Reminder.Status.SENT, sent_at=now, last_error=last_error, updated_at=now)
        report.sent += changed
        if changed != len(sent):
            # The lease ran out while sending and another delivery took some of these rows:
            # they may go out twice on an external channel. The lease must outlast a task.
            report.lost += len(sent) - changed
            log.error("%s reminders were sent after their lease ran out", len(sent) - changed)
    if released:
        report.released += mine(released).update(
            status=Reminder.Status.PENDING, claimed_at=None, attempts=F("attempts") - 1, updated_at=now
        )
    if retry_at:
        # The database, not the broker, holds the retry: back to pending with a later send_at.
        report.retried += mine(retry_at).update(
            status=Reminder.Status.PENDING, send_at=_per_row(retry_at, DateTimeField()), claimed_at=None,
            last_error=_per_row({i: errors[i] for i in retry_at}, TextField()), updated_at=now,
        )
    if failed:
        report.failed += mine(failed).update(
            status=Reminder.Status.FAILED, last_error=_per_row({i: errors[i] for i in failed}, TextField()),
            updated_at=now,
        )
    if unavailable:
        report.skipped += mine(unavailable).update(
            status=Reminder.Status.SKIPPED, last_error=_per_row({i: errors[i] for i in unavailable}, TextField()),
            attempts=F("attempts") - 1, updated_at=now,
        )
    channel_of = {r.id: r.channel for r in rows}
    push_fallbacks = [i for i in failed + unavailable if channel_of[i] == Reminder.Channel.PUSH]
    if push_fallbacks:
        report.fallbacks += outbox.fallback_to_email(reminder_ids=push_fallbacks, now=now)
    insert_rows(DeliveryAttempt, DeliveryAttempt.ROW_FIELDS, entries)


def reset_broken_connection() -> None:
    """Drop a database connection that failed, so the next query opens a fresh one.

    Never inside a transaction someone else opened (the caller owns that connection).
    """
    if not connection.in_atomic_block:
        close_old_connections()


def record_with_retries(rows: list[Reminder], results: dict[int, Result], taken_at: datetime, report: BatchReport):
    """Step 3 in its own transaction, tried again when the database connection fails.

    The messages are already out, so giving up at the first dropped connection would leave
    the rows "sending" until their lease runs out and send them again. Every write is a
    compare-and-set on the claim token, so a repeat after a failure that did commit changes
    nothing.
    """
    for pause in (*RECORD_RETRY_DELAYS, None):
        attempt = replace(report)  # counts of a rolled-back attempt must not stick
        try:
            with transaction.atomic():
                record(rows, results, taken_at, attempt)
                if rows[0].channel in EXTERNAL_CHANNELS:
                    attempt.brought_forward = outages.note_channel_state(rows[0].channel, results, timezone.now())
        except (OperationalError, InterfaceError) as exc:
            if pause is None:
                raise
            log.warning("recording a %s batch failed (%r); trying again in %s s", rows[0].channel, exc, pause)
            monotonic_time.sleep(pause)
            reset_broken_connection()
            continue
        for name, value in vars(attempt).items():
            setattr(report, name, value)
        return
