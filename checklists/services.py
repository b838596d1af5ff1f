"""Verbs that change checklists and tasks. Each runs in one transaction (protocols: checklists.publishing).

These touch the checklists alone. The workflows that also move reminders (assigning a
checklist, ticking a step off, moving a surgery) call these from prepapp.workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from checklists import schedule
from checklists.models import Checklist, ProtocolVersion, Task, TaskDefinition
from prepapp.lib.bulk import bulk_update_rows
from prepapp.models import SurgeryCase


def _placement(definition: TaskDefinition, surgery_date, today) -> schedule.Placement:
    """Where a definition's step lands for a surgery date, seen from the patient's today."""
    dates = schedule.task_dates(
        surgery_date,
        offset_days=definition.offset_days,
        window_start_days=definition.window_start_days,
        window_end_days=definition.window_end_days,
    )
    return schedule.place(
        dates, today, surgery_date=surgery_date, offset_days=definition.offset_days,
        min_lead_days=definition.min_lead_days, stop=definition.stop,
    )


def _task_for(checklist: Checklist, definition: TaskDefinition, today) -> Task:
    """An unsaved task for one step, its dates placed from the case's surgery date and the patient's today."""
    placed = _placement(definition, checklist.case.surgery_date, today)
    return Task(
        checklist=checklist,
        definition=definition,
        position=definition.position,
        due_date=placed.dates.due_date,
        window_start=placed.dates.window_start,
        window_end=placed.dates.window_end,
        late=placed.late,
        not_enough_time=placed.not_enough_time,
    )


def _tasks_for(checklist: Checklist, definitions, patient, today) -> list[Task]:
    facts = patient.facts
    return [_task_for(checklist, d, today) for d in definitions if schedule.applies(d.applies_if, facts)]


@transaction.atomic
def checklist_build(
    *, case: SurgeryCase, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None
) -> Checklist:
    """Copy a protocol version's steps, tailored to the patient, into the case's checklist.

    Steps whose window has already closed are kept and marked late; steps whose planned day
    has passed but whose window is still open are due in a few days ("start now"); steps that
    need more days before surgery than are left are marked not enough time. Assigning again
    replaces a checklist on which nothing has been done yet; once the patient has
    started, the checklist stays (assigning twice by mistake must not erase work).
    """
    now = now or timezone.now()
    if protocol_version.is_draft:
        raise ValidationError({"version": "This version is a draft; only a published version can be assigned."})
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"case": f"This surgery is {case.status}; only a scheduled surgery can get a checklist."})
    existing = Checklist.objects.filter(case=case).first()
    if existing:
        if existing.tasks.exclude(status=Task.Status.OPEN).exists() or existing.tasks.exclude(answers={}).exists():
            raise ValidationError(
                {"protocol": "The patient has already worked on this checklist; it cannot be replaced."}
            )
        existing.delete()  # its tasks, and with them their reminders
    patient = case.patient
    checklist = Checklist.objects.create(case=case, protocol_version=protocol_version, assigned_by=assigned_by)
    definitions = list(protocol_version.definitions.order_by("position"))
    Task.objects.bulk_create(_tasks_for(checklist, definitions, patient, patient.local_today(now)))
    return checklist


@dataclass
class Retailoring:
    """What re-tailoring a checklist to the patient's facts did."""

    added: list[Task] = field(default_factory=list)  # saved, open: their reminders are still to plan
    removed: list[TaskDefinition] = field(default_factory=list)  # the steps of the open tasks taken off
    # Open steps that no longer apply but carry the patient's notes or answers: left in place.
    kept: list[Task] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@transaction.atomic
def checklist_retailor(*, checklist: Checklist, facts: dict, now: datetime | None = None) -> Retailoring:
    """Bring a checklist in line with the patient's facts as they are now.

    Steps that now apply (or wait on a fact not yet known) and are missing are added, with
    dates placed as on assignment; open steps that no longer apply are removed, with their
    reminders. Done steps are never touched, and an open step the patient has written
    notes or answers in stays (it is reported as kept). Only the checklist of a scheduled
    surgery changes. The caller plans the added steps' reminders in the same transaction.
    """
    now = now or timezone.now()
    result = Retailoring()
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=checklist.case_id)
    if case.status != SurgeryCase.Status.SCHEDULED:
        return result
    checklist.case = case
    tasks = {
        t.definition_id: t
        for t in checklist.tasks.select_related("definition").select_for_update(of=("self",))
    }
    today = case.patient.local_today(now)
    to_add, to_remove = [], []
    for definition in checklist.protocol_version.definitions.order_by("position"):
        wanted = schedule.applies(definition.applies_if, facts)
        task = tasks.get(definition.id)
        if wanted and task is None:
            to_add.append(_task_for(checklist, definition, today))
        elif not wanted and task is not None and task.status == Task.Status.OPEN:
            if task.note or task.answers:
                result.kept.append(task)
            else:
                to_remove.append(task)
    if to_remove:
        # Their reminders go with them (the outbox rows belong to the task).
        Task.objects.filter(pk__in=[t.pk for t in to_remove], status=Task.Status.OPEN).delete()
        result.removed = [t.definition for t in to_remove]
    if to_add:
        result.added = Task.objects.bulk_create(to_add)
    return result


def checklist_recompute_dates(*, checklist: Checklist, now: datetime | None = None) -> list[Task]:
    """Recompute every open task's dates from the case's surgery date (called by reschedule).

    Must run inside the caller's transaction. Done tasks keep their dates (and their
    not-enough-time mark) as they were when done; open ones are placed again from today,
    so a surgery moved earlier can leave a step without enough time, and one moved later
    can give it back.
    """
    now = now or timezone.now()
    case = checklist.case
    today = case.patient.local_today(now)
    tasks = list(checklist.tasks.select_related("definition").select_for_update(of=("self",)))
    changed = []
    for task in tasks:
        if task.status != Task.Status.OPEN:
            continue
        placed = _placement(task.definition, case.surgery_date, today)
        task.due_date, task.window_start, task.window_end = (
            placed.dates.due_date, placed.dates.window_start, placed.dates.window_end
        )
        task.late = placed.late
        task.not_enough_time = placed.not_enough_time
        task.updated_at = now  # bulk_update does not stamp auto_now fields itself
        changed.append(task)
    Task.objects.bulk_update(
        changed, ["due_date", "window_start", "window_end", "late", "not_enough_time", "updated_at"]
    )
    return tasks


# --- Many cases at once -----------------------------------------------------------------------
# The same verbs for a batch of cases (a protocol rolled out to a clinic, a surgeon's list moved):
# a fixed number of queries per batch of rows, whatever the number of cases, steps or reminders.

BULK_BATCH_SIZE = 2000


def refuse_cases(problems: dict[int, str]) -> None:
    """A 4xx-worthy error naming the cases of a batch that cannot be changed, if any."""
    if problems:
        shown = "; ".join(f"case {pk}: {why}" for pk, why in sorted(problems.items())[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ValidationError({"cases": f"{len(problems)} case(s) cannot be changed: {shown}{more}."})


def checklists_build_bulk(
    *, cases, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None
) -> list[Checklist]:
    """checklist_build for many cases at once: the same rules, every case or none.

    Must run inside the caller's transaction. The checklists come back with their cases,
    patients and tasks (each task with its definition) in memory, for planning reminders
    without reading them again.
    """
    now = now or timezone.now()
    if protocol_version.is_draft:
        raise ValidationError({"version": "This version is a draft; only a published version can be assigned."})
    ids = sorted({getattr(case, "pk", case) for case in cases})
    locked = {
        c.pk: c for c in SurgeryCase.objects.select_for_update(of=("self",)).select_related("patient").filter(pk__in=ids)
    }
    problems = {pk: "no such surgery" for pk in ids if pk not in locked}
    problems.update(
        {pk: f"this surgery is {c.status}" for pk, c in locked.items() if c.status != SurgeryCase.Status.SCHEDULED}
    )
    problems.update(
        {pk: f"this patient is {c.patient.status}" for pk, c in locked.items()
         if pk not in problems and not c.patient.is_followed}
    )
    existing = Checklist.objects.filter(case_id__in=ids)
    worked_on = set(
        Task.objects.filter(checklist__case_id__in=ids)
        .filter(~Q(status=Task.Status.OPEN) | ~Q(answers={}))
        .values_list("checklist__case_id", flat=True)
    )
    problems.update({pk: "the patient has already worked on its checklist" for pk in worked_on})
    refuse_cases(problems)
    existing.delete()  # untouched checklists are replaced, their tasks and reminders with them
    checklists = Checklist.objects.bulk_create(
        [Checklist(case=locked[pk], protocol_version=protocol_version, assigned_by=assigned_by) for pk in ids],
        batch_size=BULK_BATCH_SIZE,
    )
    definitions = list(protocol_version.definitions.order_by("position"))
    tasks = []
    for checklist in checklists:
        patient = checklist.case.patient
        checklist.built_tasks = _tasks_for(checklist, definitions, patient, patient.local_today(now))
        tasks.extend(checklist.built_tasks)
    Task.objects.bulk_create(tasks, batch_size=BULK_BATCH_SIZE)
    return checklists


def checklists_recompute_dates_bulk(*, cases, now: datetime | None = None) -> list[Task]:
    """checklist_recompute_dates for many cases (already locked and moved by the caller), in one pass.

    Must run inside the caller's transaction. Returns every task of those checklists, each with
    its definition and its checklist's case (and patient) in memory.
    """
    now = now or timezone.now()
    by_id = {case.pk: case for case in cases}
    tasks = list(
        Task.objects.filter(checklist__case_id__in=list(by_id))
        .select_related("definition", "checklist")
        .select_for_update(of=("self",))
    )
    today_of = {}
    changed = []
    for task in tasks:
        case = by_id[task.checklist.case_id]
        task.checklist.case = case
        task.due_before = task.due_date  # for telling the patient which steps moved
        if task.status != Task.Status.OPEN:
            continue
        if case.pk not in today_of:
            today_of[case.pk] = case.patient.local_today(now)
        placed = _placement(task.definition, case.surgery_date, today_of[case.pk])
        task.due_date, task.window_start, task.window_end = (
            placed.dates.due_date, placed.dates.window_start, placed.dates.window_end
        )
        task.late = placed.late
        task.not_enough_time = placed.not_enough_time
        task.updated_at = now
        changed.append(task)
    bulk_update_rows(Task, changed, ["due_date", "window_start", "window_end", "late", "not_enough_time", "updated_at"],
                     batch_size=BULK_BATCH_SIZE)
    return tasks


def _task_for_update(task: Task) -> Task:
    return (
        Task.objects.select_for_update(of=("self",))
        .select_related("checklist__case__patient", "definition")
        .get(pk=task.pk)
    )


def _ensure_case_open(task: Task, case_status: str | None = None):
    if (case_status or task.checklist.case.status) == SurgeryCase.Status.CANCELLED:
        raise ValidationError({"task": "This surgery was cancelled; its checklist can no longer change."})


def _tick_state_for_update(task: Task) -> Task:
    """Lock the task's row and bring its tick (status, when, by whom) up to date, with its case's status.

    A tick reads nothing else afresh: the caller's task already has its definition and case, and
    only the tick's own columns are written. One narrow locked read instead of the task, its
    definition, checklist, case and patient all over again.
    """
    status, completed_at, completed_by_id, case_status = (
        Task.objects.select_for_update(of=("self",)).filter(pk=task.pk)
        .values_list("status", "completed_at", "completed_by_id", "checklist__case__status").get()
    )
    task.status, task.completed_at, task.completed_by_id = status, completed_at, completed_by_id
    _ensure_case_open(task, case_status)
    return task


# A transaction of its own when called alone; inside the caller's (the tick's workflow) no
# savepoint: nothing here is caught and carried on from, and a savepoint is two more round
# trips on every tick.
@transaction.atomic(savepoint=False)
def task_mark_done(*, task: Task, by, now: datetime) -> tuple[Task, bool]:
    """Mark a task done; returns the task and whether it changed (it may have been done already)."""
    task = _tick_state_for_update(task)
    if task.status == Task.Status.DONE:
        return task, False
    task.status, task.completed_at, task.completed_by = Task.Status.DONE, now, by
    task.save(update_fields=["status", "completed_at", "completed_by", "updated_at"])
    return task, True


@transaction.atomic(savepoint=False)
def task_mark_open(*, task: Task, by) -> tuple[Task, bool]:
    """Mark a done task open again; returns the task and whether it changed."""
    task = _tick_state_for_update(task)
    if task.status == Task.Status.OPEN:
        return task, False
    task.status, task.completed_at, task.completed_by = Task.Status.OPEN, None, None
    task.save(update_fields=["status", "completed_at", "completed_by", "updated_at"])
    return task, True


@transaction.atomic
def task_record_answers(*, task: Task, answers: dict | None = None, note: str | None = None) -> Task:
    """Save the patient's answers to sub-items (merged by key) and/or their note."""
    task = _task_for_update(task)
    _ensure_case_open(task)
    fields = ["updated_at"]
    if answers is not None:
        known = {item["key"] for item in task.definition.sub_items}
        unknown = sorted(set(answers) - known)
        if unknown:
            raise ValidationError({"answers": f"Unknown item(s) for this task: {', '.join(unknown)}."})
        for key, value in answers.items():
            if not isinstance(value, str):
                raise ValidationError({"answers": f"The answer to {key} must be text."})
            if len(value) > 4000:
                raise ValidationError({"answers": f"The answer to {key} is longer than 4000 characters."})
        task.answers = {**task.answers, **{k: v for k, v in answers.items()}}
        fields.append("answers")
    if note is not None:
        if len(note) > 4000:
            raise ValidationError({"note": "The note is longer than 4000 characters."})
        task.note = note
        fields.append("note")
    task.save(update_fields=fields)
    return task
