"""The daily digest: what one message a day tells a patient, read from the checklist at send time.

A digest row (rule "digest", no task) is planned for each day something of the patient's
falls due, opens or needs a nudge (planning.digest_days). Its content is not stored: it is
built here when the row is delivered, from the steps as they are then, so a step ticked
off after planning is not listed, and a digest with nothing left to say is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import F

from checklists.models import Task, TaskDefinition
from checklists.selectors import tasks_open_for_patient, tasks_open_to_remind
from prepapp.models import Patient, SurgeryCase
from prepapp.reminders.models import Alert, Reminder

# A digest lists at most this many overdue steps by name (critical and alerted ones first).
OVERDUE_LISTED = 8

OVERDUE, DUE, STARTING = "overdue", "due", "starting"


@dataclass
class DigestItem:
    task_id: int
    kind: str  # overdue, due or starting
    definition: object  # the step's TaskDefinition (texts in every language)
    due_date: date
    critical: bool = False
    alerted: bool = False  # an open alert about it: the care team has been told


@dataclass
class Digest:
    day: date
    overdue: list[DigestItem] = field(default_factory=list)
    due: list[DigestItem] = field(default_factory=list)
    starting: list[DigestItem] = field(default_factory=list)
    overdue_not_listed: int = 0

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.due or self.starting)

    @property
    def items(self) -> list[DigestItem]:
        return [*self.overdue, *self.due, *self.starting]

    @property
    def missing(self) -> list[DigestItem]:
        """The critical steps the care team was alerted about: named first in the message."""
        return [item for item in self.overdue if item.alerted]


def _due_rule_on(task: Task, day: date) -> bool:
    """Whether one of the step's due-anchored rules falls on this day (the day before, a week left…)."""
    return any(
        rule.get("anchor") == "due" and task.due_date + timedelta(days=rule["offset_days"]) == day
        for rule in task.definition.reminder_rules
    )


def build(patient: Patient, day: date, tasks=None, alerted: set[int] | None = None) -> Digest:
    """The digest of one patient's day: overdue steps, steps due (today, tomorrow, soon), steps opening.

    `tasks` and `alerted` (the ids of its steps with an open alert), when the caller read them
    already (a delivery batch reads them for all its digests at once, see `prefetch`).
    """
    tasks = list(tasks if tasks is not None else tasks_open_for_patient(patient))
    if alerted is None:
        alerted = set(
            Alert.objects.filter(patient=patient, acknowledged_at__isnull=True, task__in=[t.id for t in tasks])
            .values_list("task_id", flat=True)
        )
    digest = Digest(day=day)
    for task in tasks:
        if task.status != Task.Status.OPEN:
            continue
        critical = bool(task.definition.critical)
        if task.due_date < day:
            kind = OVERDUE
        elif task.due_date == day or _due_rule_on(task, day):
            kind = DUE
        elif task.window_start == day and task.window_start != task.due_date:
            kind = STARTING
        else:
            continue
        getattr(digest, kind).append(
            DigestItem(task.id, kind, task.definition, task.due_date, critical=critical, alerted=task.id in alerted)
        )
    digest.overdue.sort(key=lambda i: (not i.alerted, not i.critical, i.due_date, i.task_id))
    digest.due.sort(key=lambda i: (i.due_date, not i.critical, i.task_id))
    digest.starting.sort(key=lambda i: (i.due_date, i.task_id))
    if len(digest.overdue) > OVERDUE_LISTED:
        digest.overdue_not_listed = len(digest.overdue) - OVERDUE_LISTED
        digest.overdue = digest.overdue[:OVERDUE_LISTED]
    return digest


def open_task_ids(patient_ids) -> set[int]:
    """The open steps a delivery of these patients' digests reads (locked while it rechecks)."""
    if not patient_ids:
        return set()
    return set(tasks_open_to_remind().filter(checklist__case__patient_id__in=patient_ids).values_list("id", flat=True))


def recheck(reminder: Reminder, now: datetime) -> tuple[str, str] | None:
    """Whether a digest should still go out: None if yes, else (status, reason).

    Builds the content from the steps as they are now and keeps it on the row for
    composing, so what is sent is what was checked.
    """
    patient = reminder.patient
    inputs = getattr(reminder, "digest_inputs", None)
    if inputs is None:
        inputs = _read_inputs([patient.pk])[patient.pk]
    has_live_case, tasks, alerted = inputs
    if not has_live_case:
        return Reminder.Status.CANCELLED, "no scheduled surgery"
    content = build(patient, reminder.anchor_date, tasks, alerted)
    if patient.reminder_style != Patient.ReminderStyle.DIGEST and not content.missing:
        return Reminder.Status.CANCELLED, "the patient chose one message per step"
    if content.empty:
        return Reminder.Status.CANCELLED, "nothing left to tell: the steps it would list are done"
    reminder.digest = content
    return None


# A surgery marked done still has its recovery to remind (tasks_open_for_patient).
LIVE_CASES = (SurgeryCase.Status.SCHEDULED, SurgeryCase.Status.DONE)


def _read_inputs(patient_ids) -> dict[int, tuple[bool, list[Task], set[int]]]:
    """What the recheck of these patients' digests reads, in three queries however many there are:
    per patient, whether a surgery is still live, its open steps (with definitions), and which of
    them have an open alert."""
    patient_ids = set(patient_ids)
    live = set(SurgeryCase.objects.filter(patient_id__in=patient_ids, status__in=LIVE_CASES)
               .values_list("patient_id", flat=True))
    tasks: dict[int, list[Task]] = {pk: [] for pk in patient_ids}
    rows = list(tasks_open_to_remind().filter(checklist__case__patient_id__in=patient_ids)
                .annotate(owner_id=F("checklist__case__patient_id")))
    # The steps of one protocol version share their definitions: each is read (and its JSON
    # parsed) once for the batch, not once per patient's step as a join would.
    definitions = TaskDefinition.objects.in_bulk({t.definition_id for t in rows}) if rows else {}
    for task in rows:
        Task.definition.field.set_cached_value(task, definitions[task.definition_id])
        tasks[task.owner_id].append(task)
    alerted: dict[int, set[int]] = {pk: set() for pk in patient_ids}
    task_ids = [t.id for own in tasks.values() for t in own]
    if task_ids:
        for patient_id, task_id in Alert.objects.filter(
            patient_id__in=patient_ids, acknowledged_at__isnull=True, task__in=task_ids
        ).values_list("patient_id", "task_id"):
            alerted[patient_id].add(task_id)
    return {pk: (pk in live, tasks[pk], alerted[pk]) for pk in patient_ids}


def prefetch(rows: list[Reminder]) -> None:
    """Read, once for a delivery batch, what rechecking its digests reads (see `recheck`)."""
    digests = [r for r in rows if r.is_digest]
    if not digests:
        return
    inputs = _read_inputs({r.patient_id for r in digests})
    for reminder in digests:
        reminder.digest_inputs = inputs[reminder.patient_id]


def content_of(reminder: Reminder) -> Digest:
    """The content checked at delivery, or (outside delivery, e.g. a preview) built now."""
    content = getattr(reminder, "digest", None)
    return content if content is not None else build(reminder.patient, reminder.anchor_date)
