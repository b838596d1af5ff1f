"""Taking a claimed batch (delivery step 1).

Lock what the recheck reads, move the rows' claim to a fresh token (a stale or duplicated
broker message then finds nothing left to take; the inbox keeps its claim, see `take`), and read the rows with everything the
recheck and the message need, each related row read once for the batch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from checklists.models import Checklist, Task, TaskDefinition
from prepapp.lib.bulk import among
from prepapp.models import CaregiverLink, Patient, SurgeryCase
from prepapp.reminders import digest, journal, outbox
from prepapp.reminders.models import DIGEST_RULE, Announcement, Reminder

log = logging.getLogger(__name__)


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


# The reminder columns delivery reads after taking a row: the recheck, the words, the inbox
# row and the log entry (and, for email and push, the retry and the duplicate note). The
# others (the claim, the lease, the timestamps: seven dates to parse per row) stay in the
# database; a later read of one would cost a query per row, which the statement-count tests
# would show.
DELIVERY_FIELDS = ("id", "kind", "task_id", "announcement_id", "patient_id", "caregiver_id", "rule", "channel",
                   "anchor_date", "send_at", "attempts", "lost_claims")


# A step's columns no recheck or message reads (the longest ones: answers and notes).
TASK_COLUMNS_NOT_READ = ("answers", "note", "completed_at", "completed_by", "updated_at")


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _move_claim(ids: list[int], claim: datetime, taken_at: datetime) -> list[Reminder]:
    """Move the rows still carrying `claim` to the fresh token `taken_at`, and read them back.

    The fresh token also renews the lease and names the worker that now holds the rows.
    """
    Reminder.objects.filter(among("id", ids), status=Reminder.Status.SENDING, claimed_at=claim).update(
        claimed_at=taken_at, updated_at=taken_at, lease_until=outbox.lease_end(taken_at), holder=journal.worker_id()
    )
    return list(Reminder.objects.filter(among("id", ids), status=Reminder.Status.SENDING, claimed_at=taken_at)
                .only(*DELIVERY_FIELDS).order_by("id"))


def _attach_related(rows: list[Reminder]) -> None:
    """Give the rows their patient, task (with checklist, case and definition) and announcement.

    Each is read once however many rows of the batch share it: a patient's reminders of
    several steps, a step's several rules, the steps of one protocol.
    """
    patients = Patient.objects.in_bulk({r.patient_id for r in rows})
    task_ids = {r.task_id for r in rows if r.task_id}
    # The steps without what no check or message reads (answers, notes, who ticked them and
    # when); their checklists and cases once each, not once per step.
    tasks = ({task.pk: task for task in Task.objects.defer(*TASK_COLUMNS_NOT_READ).filter(among("id", task_ids))}
             if task_ids else {})
    checklists = (Checklist.objects.select_related("case").in_bulk({t.checklist_id for t in tasks.values()})
                  if tasks else {})
    definitions = TaskDefinition.objects.in_bulk({t.definition_id for t in tasks.values()}) if tasks else {}
    for checklist in checklists.values():
        # The case's patient is the reminder's: one object, so what recheck reads is the same.
        if checklist.case.patient_id in patients:
            SurgeryCase.patient.field.set_cached_value(checklist.case, patients[checklist.case.patient_id])
    for task in tasks.values():
        Task.definition.field.set_cached_value(task, definitions[task.definition_id])
        Task.checklist.field.set_cached_value(task, checklists[task.checklist_id])
    announcement_ids = {r.announcement_id for r in rows if r.announcement_id}
    announcements = Announcement.objects.in_bulk(announcement_ids) if announcement_ids else {}
    # A family row's caregiver link, with the caregiver's account and own settings.
    link_ids = {r.caregiver_id for r in rows if r.caregiver_id}
    links = (CaregiverLink.objects.select_related("caregiver__caregiver_settings").in_bulk(link_ids)
             if link_ids else {})
    for link in links.values():
        CaregiverLink.patient.field.set_cached_value(link, patients[link.patient_id])
    for reminder in rows:
        if reminder.caregiver_id:
            Reminder.caregiver.field.set_cached_value(reminder, links.get(reminder.caregiver_id))
        Reminder.patient.field.set_cached_value(reminder, patients[reminder.patient_id])
        Reminder.task.field.set_cached_value(reminder, tasks.get(reminder.task_id))
        Reminder.announcement.field.set_cached_value(reminder, announcements.get(reminder.announcement_id))


def take(ids: list[int], claim: datetime, *, in_one_transaction: bool = False) -> tuple[datetime | None, list[Reminder]]:
    """Move the rows still carrying this claim to a fresh token; return the token and the rows.

    `in_one_transaction`: the caller sends and records inside this transaction (the inbox), so
    the rows are only read under their claim and the token returned is the claim. They are not
    locked here: the caller's first write is the compare-and-set that marks them sent, which
    locks them then (recording.record_in_transaction). A second copy of the batch's message, or
    a reclaim, either takes the rows before that write, and the write finds nothing, or waits
    for this transaction and then finds them sent. Locking them as well would write every row
    once more for nothing.
    """
    if in_one_transaction:
        rows = list(
            Reminder.objects.filter(among("id", ids), status=Reminder.Status.SENDING, claimed_at=claim)
            .only(*DELIVERY_FIELDS).order_by("id")
        )
        found = [(r.task_id, r.patient_id, r.rule) for r in rows]
    else:
        found = list(
            Reminder.objects.filter(among("id", ids), status=Reminder.Status.SENDING, claimed_at=claim)
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
    if in_one_transaction:
        taken_at = claim
    else:
        taken_at = timezone.now()
        if taken_at <= claim:
            taken_at = claim + timedelta(microseconds=1)
        rows = _move_claim(ids, claim, taken_at)
    _attach_related(rows)
    digest.prefetch(rows)
    return taken_at, rows
