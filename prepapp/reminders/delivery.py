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
import random
import time as monotonic_time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.db.models import Case, DateTimeField, F, TextField, Value, When
from django.utils import timezone

from checklists.models import Checklist, Task, TaskDefinition
from prepapp.lib.bulk import insert_rows
from prepapp.models import Patient, SurgeryCase
from prepapp.reminders import channels, digest, fallback, journal, outbox, planning
from prepapp.reminders.channels import Outcome, Outgoing, Result, Transport
from prepapp.reminders.compose import compose
from prepapp.reminders.models import DIGEST_RULE, Announcement, DeliveryAttempt, Reminder

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=6)
# Pauses before trying the record step again after the database connection failed (seconds).
RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0)
POSSIBLE_DUPLICATE_NOTE = "sent; an earlier attempt may also have been delivered (worker lost)"
EXTERNAL_CHANNELS = frozenset({Reminder.Channel.EMAIL, Reminder.Channel.PUSH})


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


# --- Time rules --------------------------------------------------------------------------


def quiet_hours_end_after(patient: Patient, moment: datetime) -> datetime:
    """The first end of the patient's quiet hours after a moment, as a UTC instant."""
    zone = patient.zone
    day = moment.astimezone(zone).date()
    for offset in (0, 1, 2):
        candidate = planning.to_utc(day + timedelta(days=offset), patient.quiet_hours_end, zone)
        if candidate > moment:
            return candidate
    return moment  # unreachable: an end time recurs every day


def is_quiet(patient: Patient, moment: datetime) -> bool:
    return planning.in_quiet_hours(
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


# --- Step 1: take and recheck ------------------------------------------------------------


def _lock_what_recheck_reads(task_ids: list[int]) -> None:
    """Share locks on the cases and tasks, in the services' order (case, then task).

    case_reschedule, case_cancel and task_complete lock the same rows FOR UPDATE, so each of
    them either finishes before the recheck reads (which then sees the new dates, the
    cancellation or the tick) or waits until the recheck has committed (the reminder was
    already on its way). Share locks do not conflict with each other, so deliveries for the
    same patient never wait for one another. Django has no FOR SHARE, hence the SQL.
    """
    if connection.vendor != "postgresql":
        return  # SQLite: every write transaction is exclusive already
    case, task, checklist = (quote(m._meta.db_table) for m in (SurgeryCase, Task, Checklist))
    with connection.cursor() as cursor:
        # The table names come from the models' metadata; the ids are bound parameters (bandit B608).
        cursor.execute(
            f"SELECT id FROM {case} WHERE id IN (SELECT cl.case_id FROM {task} t JOIN {checklist} cl "  # nosec B608
            f"ON cl.id = t.checklist_id WHERE t.id = ANY(%s)) ORDER BY id FOR SHARE",
            [task_ids],
        )
        cursor.execute(f"SELECT id FROM {task} WHERE id = ANY(%s) ORDER BY id FOR SHARE", [task_ids])  # nosec B608


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


# Every column of a reminder, as `_take` reads them back from the UPDATE that moves the claim.
_REMINDER_FIELDS = [f for f in Reminder._meta.concrete_fields]


def _move_claim(ids: list[int], claim: datetime, taken_at: datetime) -> list[Reminder]:
    """Move the rows still carrying `claim` to the fresh token `taken_at`, and read them back.

    The fresh token also renews the lease and names the worker that now holds the rows. One
    UPDATE … RETURNING on PostgreSQL; elsewhere an update, then a read.
    """
    changes = dict(claimed_at=taken_at, updated_at=taken_at, lease_until=outbox.lease_end(taken_at),
                   holder=journal.worker_id())
    if connection.vendor != "postgresql":
        Reminder.objects.filter(id__in=ids, status=Reminder.Status.SENDING, claimed_at=claim).update(**changes)
        return list(Reminder.objects.filter(id__in=ids, status=Reminder.Status.SENDING, claimed_at=taken_at)
                    .order_by("id"))
    fields = {f.attname: f for f in _REMINDER_FIELDS}
    assignments = ", ".join(f"{quote(fields[name].column)} = %s" for name in changes)
    # Column names come from the model's metadata; every value is a bound parameter (bandit B608).
    return _reminders_from_sql(
        f"UPDATE {quote(Reminder._meta.db_table)} SET {assignments} "  # nosec B608
        f"WHERE id = ANY(%s) AND status = %s AND claimed_at = %s RETURNING {_reminder_columns()}",
        [*changes.values(), ids, Reminder.Status.SENDING, claim],
    )


def _lock_claimed(ids: list[int], claim: datetime) -> list[Reminder]:
    """Lock the rows still carrying `claim` (FOR UPDATE) and read them, leaving the claim as it is.

    For a channel that sends and records in one transaction (the inbox): the row locks keep a
    second copy of the batch's message waiting until this one has committed, after which
    the rows are no longer "sending" under this claim and it finds nothing. No fresh token,
    lease or holder is needed, since nothing is ever out while the rows are unlocked, which
    saves writing every row once more.
    """
    # Column names come from the model's metadata; every value is a bound parameter (bandit B608).
    return _reminders_from_sql(
        f"SELECT {_reminder_columns()} FROM {quote(Reminder._meta.db_table)} "  # nosec B608
        f"WHERE id = ANY(%s) AND status = %s AND claimed_at = %s ORDER BY id FOR UPDATE",
        [ids, Reminder.Status.SENDING, claim],
    )


def _reminder_columns() -> str:
    return ", ".join(quote(f.column) for f in _REMINDER_FIELDS)


def _reminders_from_sql(sql: str, params: list) -> list[Reminder]:
    """Reminders from a statement that returns every column, as a queryset would build them."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    names = [f.attname for f in _REMINDER_FIELDS]
    converters = [(i, f.from_db_value) for i, f in enumerate(_REMINDER_FIELDS) if hasattr(f, "from_db_value")]
    rows = []
    for values in found:
        if converters:
            values = list(values)
            for i, convert in converters:
                values[i] = convert(values[i], None, connection)
        rows.append(Reminder.from_db(connection.alias, names, values))
    rows.sort(key=lambda r: r.id)
    return rows


def _attach_related(rows: list[Reminder]) -> None:
    """Give the rows their patient, task (with checklist, case and definition) and announcement.

    Each is read once however many rows of the batch share it: a patient's reminders of
    several steps, a step's several rules, the steps of one protocol.
    """
    patients = Patient.objects.in_bulk({r.patient_id for r in rows})
    task_ids = {r.task_id for r in rows if r.task_id}
    tasks = Task.objects.select_related("checklist__case").in_bulk(task_ids) if task_ids else {}
    definitions = TaskDefinition.objects.in_bulk({t.definition_id for t in tasks.values()}) if tasks else {}
    for task in tasks.values():
        Task.definition.field.set_cached_value(task, definitions[task.definition_id])
        # The case's patient is the reminder's: one object, so what recheck reads is the same.
        case = task.checklist.case
        if case.patient_id in patients:
            SurgeryCase.patient.field.set_cached_value(case, patients[case.patient_id])
    announcement_ids = {r.announcement_id for r in rows if r.announcement_id}
    announcements = Announcement.objects.in_bulk(announcement_ids) if announcement_ids else {}
    for reminder in rows:
        Reminder.patient.field.set_cached_value(reminder, patients[reminder.patient_id])
        Reminder.task.field.set_cached_value(reminder, tasks.get(reminder.task_id))
        Reminder.announcement.field.set_cached_value(reminder, announcements.get(reminder.announcement_id))


def _take(ids: list[int], claim: datetime, *, in_one_transaction: bool = False) -> tuple[datetime | None, list[Reminder]]:
    """Move the rows still carrying this claim to a fresh token; return the token and the rows.

    `in_one_transaction`: the caller sends and records inside this transaction, so the rows
    are only locked under their claim (see `_lock_claimed`) and the token returned is the claim.
    """
    found = list(
        Reminder.objects.filter(id__in=ids, status=Reminder.Status.SENDING, claimed_at=claim)
        .values_list("task_id", "patient_id", "rule")
    )
    if not found:
        return None, []
    task_ids = {task_id for task_id, _, _ in found if task_id is not None}
    # A digest (no task) reads every open step of its patient: those are locked as well.
    # Announcements have no task and read no step.
    task_ids |= digest.open_task_ids({patient_id for task_id, patient_id, rule in found
                                      if task_id is None and rule == DIGEST_RULE})
    if task_ids:
        _lock_what_recheck_reads(sorted(task_ids))
    if in_one_transaction and connection.features.has_select_for_update:
        taken_at, rows = claim, _lock_claimed(ids, claim)
    else:
        taken_at = timezone.now()
        if taken_at <= claim:
            taken_at = claim + timedelta(microseconds=1)
        rows = _move_claim(ids, claim, taken_at)
    _attach_related(rows)
    return taken_at, rows


@dataclass
class Verdict:
    status: str  # cancelled, skipped or pending (deferred)
    reason: str
    send_at: datetime | None = None


def recheck(reminder: Reminder, now: datetime) -> Verdict | None:
    """Whether this reminder should still go out now: None if yes, else what to do with it."""
    if reminder.is_digest:
        # A digest: rebuilt from the steps as they are now (digest.py), then the same checks of channel and time.
        problem = digest.recheck(reminder, now)
        if problem:
            return Verdict(*problem)
        return _channel_and_time_verdict(reminder, now)
    task = reminder.task
    if task is None:
        # An announcement: news of its moment, with no step or rule to recheck. Only the
        # patient's channels count (the in-app copy always stays).
        if reminder.channel != Reminder.Channel.INAPP and not planning.channel_wanted(reminder, reminder.patient):
            return Verdict(Reminder.Status.CANCELLED, "the patient turned this channel off")
        return _time_verdict(reminder, now)
    case = task.checklist.case
    patient = reminder.patient
    if case.status == SurgeryCase.Status.CANCELLED:
        return Verdict(Reminder.Status.CANCELLED, f"surgery {case.status}")
    if not reminder.patient.is_followed:
        return Verdict(Reminder.Status.CANCELLED, f"patient {reminder.patient.status}")
    # Once the surgery is done the recovery steps go on being reminded; preparing is over.
    if case.status == SurgeryCase.Status.DONE and task.definition.offset_days <= 0:
        return Verdict(Reminder.Status.CANCELLED, "surgery done: a preparation step")
    if task.status != Task.Status.OPEN:
        return Verdict(Reminder.Status.CANCELLED, "task done")
    rule = next((r for r in task.definition.reminder_rules if r["key"] == reminder.rule), None)
    if rule is None or planning.anchor_date_for(task, rule) != reminder.anchor_date:
        return Verdict(Reminder.Status.CANCELLED, "plan changed: the task's dates moved")
    return _channel_and_time_verdict(reminder, now)


def _channel_and_time_verdict(reminder: Reminder, now: datetime) -> Verdict | None:
    """The checks every step and digest row gets: the channel still wanted, then `_time_verdict`."""
    if not planning.channel_wanted(reminder, reminder.patient):
        return Verdict(Reminder.Status.CANCELLED, "the patient turned this channel off")
    return _time_verdict(reminder, now)


def _time_verdict(reminder: Reminder, now: datetime) -> Verdict | None:
    """Not too late, and not going out inside quiet hours when its time was outside them."""
    patient = reminder.patient
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
            return Verdict(Reminder.Status.PENDING, "deferred: now inside the patient's quiet hours", morning)
        return Verdict(Reminder.Status.SKIPPED, "too late: quiet hours began before it could go out")
    return None


def _apply_verdicts(dropped: list[tuple[Reminder, Verdict]], taken_at: datetime, now: datetime, report: BatchReport):
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


# --- Step 3: record ----------------------------------------------------------------------


def _per_row(values: dict[int, object], output_field) -> Case:
    """One UPDATE that sets a different value on each row: CASE id WHEN … THEN … END."""
    return Case(*(When(id=row_id, then=Value(value)) for row_id, value in values.items()), output_field=output_field)


def _record(rows: list[Reminder], results: dict[int, Result], taken_at: datetime, report: BatchReport) -> None:
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
                attempts=reminder.attempts, now=now, patient=reminder.patient, retry_after=result.retry_after
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


# --- The whole batch ---------------------------------------------------------------------


def deliver_batch(*, ids: list[int], token: str, channel: str) -> BatchReport:
    """Deliver the reminders a sweeper claimed under `token` on one channel (see the module docstring)."""
    transport = channels.for_channel(channel)
    claim = outbox.parse_token(token)
    report = BatchReport()
    with transaction.atomic():
        taken_at, rows = _take(ids, claim, in_one_transaction=transport.transactional)
        if not rows:
            return report
        report.taken = len(rows)
        # The token is the claim itself when the rows were only locked: the time is read anew.
        now = taken_at if taken_at != claim else timezone.now()
        dropped, ready = [], []
        for reminder in rows:
            verdict = recheck(reminder, now)
            if verdict:
                dropped.append((reminder, verdict))
            else:
                ready.append(reminder)
        _apply_verdicts(dropped, taken_at, now, report)
        words: dict = {}  # each step's words, worded once for the batch
        items = [Outgoing(reminder, compose(reminder, now, memo=words, with_receipt=transport.uses_receipts))
                 for reminder in ready]
        if transport.transactional:
            _commit_without_waiting_for_disk()
            results = {r.reminder_id: r for r in transport.send(items)}
            _record(ready, results, taken_at, report)
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


def reset_broken_connection() -> None:
    """Drop a database connection that failed, so the next query opens a fresh one.

    Never inside a transaction someone else opened (the caller owns that connection).
    """
    if not connection.in_atomic_block:
        close_old_connections()


def _record_with_retries(rows: list[Reminder], results: dict[int, Result], taken_at: datetime, report: BatchReport):
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
                _record(rows, results, taken_at, attempt)
                if rows[0].channel in EXTERNAL_CHANNELS:
                    attempt.brought_forward = _note_channel_state(rows[0].channel, results, timezone.now())
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
        _record_with_retries(ready, results, taken_at, report)
    if had_lines or report.lost:
        # Earlier lines from a batch that could not record, or sends whose rows a reclaim took
        # away meanwhile (pending again: the journal marks them sent before they go twice).
        journal.replay()
    else:
        own.clear()


def _trailing_transient_failures(results: dict[int, Result]) -> list[int]:
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


def _note_channel_state(channel: str, results: dict[int, Result], now: datetime) -> int:
    """Inside the record step's transaction: mark the rows that waited for the channel, and when a
    send got through, bring every row still waiting for this channel forward to now.

    Returns how many waiting rows were brought forward.
    """
    waiting = _trailing_transient_failures(results)
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
    for channel in sorted(EXTERNAL_CHANNELS):
        waiting = Reminder.objects.filter(status=Reminder.Status.PENDING, waiting_for_channel=True, channel=channel)
        if waiting.filter(send_at__lte=now).exists():
            continue  # one is due already: the sweep is about to try the channel anyway
        candidates = waiting.select_related("patient").order_by("send_at")[:20]
        for row in candidates:
            if is_quiet(row.patient, now):
                continue
            probes += Reminder.objects.filter(
                id=row.id, status=Reminder.Status.PENDING, waiting_for_channel=True, attempts__gt=0
            ).update(send_at=now, attempts=F("attempts") - 1, updated_at=now)
            break
    return probes


def retry_waiting_for_channel(*, channel: str, now: datetime | None = None) -> int:
    """The channel works again: every row that waited for it is due now (or when the patient's quiet hours end).

    A row is brought forward at most once per failure (the mark is cleared here and set
    again only by another failure), so a flapping channel cannot spin.
    """
    now = now or timezone.now()
    waiting = list(
        Reminder.objects.filter(status=Reminder.Status.PENDING, waiting_for_channel=True, channel=channel, send_at__gt=now)
        .select_related("patient")
        .only("id", "send_at", "patient__time_zone", "patient__quiet_hours_start", "patient__quiet_hours_end")
    )
    by_time: dict[datetime, list[int]] = {}
    for row in waiting:
        when = quiet_hours_end_after(row.patient, now) if is_quiet(row.patient, now) else now
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


def more_due(now: datetime | None = None) -> bool:
    """Whether due rows are waiting (cheap: the partial index on pending rows)."""
    return Reminder.objects.filter(status=Reminder.Status.PENDING, send_at__lte=now or timezone.now()).exists()
