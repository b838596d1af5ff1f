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


def record_in_transaction(transport, items: list, claim: datetime, report: BatchReport) -> None:
    """Send and record a batch of a channel that writes only our own rows (the inbox), in the
    caller's transaction: the rows are marked sent and logged first, and only those are sent.

    Marking them is a compare-and-set on the claim, and the row locks it takes are the batch's
    only ones: a second copy of the batch (or a reclaim) that got there first leaves nothing to
    mark, and one that comes later waits for this transaction and then finds the rows sent.
    Should the transport fail, the transaction rolls back, marks and log entries included.
    Each row is written once here (its status), its log entry and its message inserted once.
    Such a transport has nothing to add to the log (no far side answered), so the entry is
    written by the same statement as the mark, from the rows it marked.
    """
    now = timezone.now()
    marked = _mark_sent_and_log(sorted(item.reminder.id for item in items), claim, now)
    items = [item for item in items if item.reminder.id in marked]
    results = {result.reminder_id: result for result in transport.send(items)}
    unsent = [item.reminder.id for item in items if getattr(results.get(item.reminder.id), "outcome", None) != Outcome.SENT]
    if unsent:
        # Not a channel's refusal: our own insert did not happen. Nothing of the batch is kept.
        raise RuntimeError(f"the {transport.channel} transport did not write reminders {unsent[:10]}")
    report.sent += len(items)


def _mark_sent_and_log(ids: list[int], claim: datetime, now: datetime) -> set[int]:
    """Mark sent the rows still "sending" under `claim`, log each as sent; the ids it marked."""
    mine = Reminder.objects.filter(id__in=ids, status=Reminder.Status.SENDING, claimed_at=claim)
    if connection.vendor != "postgresql":
        # SQLite: the transaction is exclusive (IMMEDIATE), nothing can change between the two.
        rows = list(mine.only("id", "patient_id", "channel"))
        mine.update(status=Reminder.Status.SENT, sent_at=now, last_error="", updated_at=now)
        insert_rows(DeliveryAttempt, DeliveryAttempt.ROW_FIELDS, [
            DeliveryAttempt.row_for(row, outcome=DeliveryAttempt.Outcome.SENT, detail="", at=now) for row in rows
        ])
        return {row.id for row in rows}
    quote = connection.ops.quote_name
    column = {name: quote(Reminder._meta.get_field(name).column) for name in
              ("id", "status", "sent_at", "last_error", "updated_at", "claimed_at", "patient", "channel")}
    # Each log column, in ROW_FIELDS order: from the marked row, or a parameter the same for all.
    from_row = {"reminder_id": column["id"], "patient_id": column["patient"], "channel": column["channel"]}
    same = {"outcome": DeliveryAttempt.Outcome.SENT, "detail": "", "possible_duplicate": False, "at": now}
    fields = DeliveryAttempt.ROW_FIELDS
    log_columns = ", ".join(quote(DeliveryAttempt._meta.get_field(name).column) for name in fields)
    selected = ", ".join(from_row.get(name, "%s") for name in fields)
    with connection.cursor() as cursor:
        # Django's update() cannot say RETURNING, nor feed an INSERT. One statement, so the log
        # entries take no array of parameters of their own: they are made from the marked rows.
        # Names come from the models; values are parameters.
        cursor.execute(
            f"WITH sent AS (UPDATE {quote(Reminder._meta.db_table)} SET {column['status']} = %s, "  # nosec B608
            f"{column['sent_at']} = %s, {column['last_error']} = '', {column['updated_at']} = %s "
            f"WHERE {column['id']} = ANY(%s) AND {column['status']} = %s AND {column['claimed_at']} = %s "
            f"RETURNING {', '.join(from_row.values())}) "
            f"INSERT INTO {quote(DeliveryAttempt._meta.db_table)} ({log_columns}) SELECT {selected} FROM sent "
            f"RETURNING {quote(DeliveryAttempt._meta.get_field('reminder').column)}",
            [Reminder.Status.SENT, now, now, ids, Reminder.Status.SENDING, claim,
             *(same[name] for name in fields if name not in from_row)],
        )
        return {row[0] for row in cursor.fetchall()}


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
