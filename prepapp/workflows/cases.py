"""Surgeries: book, move, cancel, mark done; one at a time or many at once. The checklist's dates and the outbox follow in the same transaction."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from checklists import services as checklist_services
from checklists.models import Checklist, Task
from prepapp.audit import audit_record
from prepapp.lib.bulk import bulk_update_rows
from prepapp.models import Patient, SurgeryCase
from prepapp.procedures import normalise_level
from prepapp.reminders import bulk_planning, planning
from prepapp.reminders.announcements import announce, announce_bulk
from prepapp.reminders.models import Announcement, Reminder
from prepapp.services import full_clean
from prepapp.workflows.patients import refuse_unless_followed

# A surgery is booked at most this far ahead: a date years away is a typing mistake, and every
# step's date (and the calendar) is computed from it.
MAX_DAYS_AHEAD = 2 * 365
# case_reschedule's arrival time when the caller does not give one: the one on record stays.
KEEP = object()


# --- Surgeries --------------------------------------------------------------------------------


def _check_surgery_date(patient: Patient, surgery_date: date, now: datetime | None):
    today = patient.local_today(now)
    if surgery_date < today:
        raise ValidationError({"surgery_date": "The surgery date cannot be in the past."})
    if surgery_date > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError(
            {"surgery_date": f"The surgery date must be within {MAX_DAYS_AHEAD // 365} years from today."}
        )


def _audit(by, case: SurgeryCase, action: str, request) -> None:
    # In the verb's own transaction: the change and its entry commit together or not at all.
    if by is not None:
        audit_record(actor=by, patients=[case.patient_id], action=action, request=request)


@transaction.atomic
def case_book(
    *,
    patient: Patient,
    procedure: str,
    surgery_date: date,
    surgeon: str = "",
    surgery_time: time | None = None,
    arrival_time: time | None = None,
    approach: str = "",
    level: str = "",
    now: datetime | None = None,
    by=None,
    request=None,
) -> SurgeryCase:
    """Book a surgery for a patient, who is told. A patient has at most one scheduled surgery at a time.

    `by`: the member of staff booking it, noted in the audit trail (with the request's address).
    """
    refuse_unless_followed(patient)
    _check_surgery_date(patient, surgery_date, now)
    if SurgeryCase.objects.filter(patient=patient, status=SurgeryCase.Status.SCHEDULED).exists():
        raise ValidationError({"patient": "This patient already has a scheduled surgery; move or cancel that one."})
    case = SurgeryCase(
        patient=patient, procedure=procedure, surgeon=surgeon, surgery_date=surgery_date, surgery_time=surgery_time,
        arrival_time=arrival_time, approach=approach, level=_level(level),
    )
    full_clean(case, exclude=["patient"])
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError as exc:  # a concurrent booking won the race for the unique constraint
        raise ValidationError({"patient": "This patient already has a scheduled surgery."}) from exc
    announce(patient=patient, event=Announcement.Event.BOOKED, case=case, new_date=case.surgery_date,
             new_time=case.surgery_time, now=now)
    _audit(by, case, "book", request)
    return case


def _level(level: str) -> str:
    try:
        return normalise_level(level)
    except ValidationError as exc:
        raise ValidationError({"level": exc.messages}) from exc


@transaction.atomic
def case_describe(*, case: SurgeryCase, approach: str, level: str, by=None, request=None) -> SurgeryCase:
    """Note the operation's approach and level (either may be empty: not known yet). The patient's
    "About your surgery" then opens with that approach's page and names the level.

    A cancelled surgery keeps what it said; a done one may still be mended, as records are.
    """
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status == SurgeryCase.Status.CANCELLED:
        raise ValidationError({"status": "A cancelled surgery cannot be changed."})
    refuse_unless_followed(case.patient)
    case.approach, case.level = approach, _level(level)
    full_clean(case, exclude=["patient"])
    case.save(update_fields=["approach", "level", "updated_at"])
    _audit(by, case, "describe", request)
    return case


@transaction.atomic
def case_reschedule(
    *, case: SurgeryCase, surgery_date: date, surgery_time: time | None = None, arrival_time=KEEP,
    now: datetime | None = None, by=None, request=None,
) -> SurgeryCase:
    """Move a surgery: every open task's dates follow, and every pending reminder is re-planned.

    The patient is told (in the app, and by push or email as they chose): the old and the
    new date, and each open step whose due day moved (unless neither the date nor the time changed).
    """
    now = now or timezone.now()
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be moved."})
    refuse_unless_followed(case.patient)
    _check_surgery_date(case.patient, surgery_date, now)
    old_date, old_time = case.surgery_date, case.surgery_time
    case.surgery_date, case.surgery_time = surgery_date, surgery_time
    if arrival_time is not KEEP:
        case.arrival_time = arrival_time
    full_clean(case, exclude=["patient"])
    case.save(update_fields=["surgery_date", "surgery_time", "arrival_time", "updated_at"])
    checklist = Checklist.objects.filter(case=case).select_related("case__patient").first()
    steps = []
    if checklist:
        due_before = dict(checklist.tasks.filter(status=Task.Status.OPEN).values_list("id", "due_date"))
        tasks = checklist_services.checklist_recompute_dates(checklist=checklist, now=now)
        planning.replan_for_tasks(tasks=tasks, patient=case.patient, now=now)
        steps = [
            {"definition": t.definition_id, "old_due": due_before[t.id].isoformat(), "new_due": t.due_date.isoformat()}
            for t in sorted(tasks, key=lambda t: (t.due_date, t.position))
            if t.id in due_before and due_before[t.id] != t.due_date
        ]
    if (old_date, old_time) != (surgery_date, surgery_time):
        announce(patient=case.patient, event=Announcement.Event.MOVED, case=case, old_date=old_date,
                 old_time=old_time, new_date=surgery_date, new_time=surgery_time, steps=steps, now=now)
    _audit(by, case, "reschedule", request)
    return case


@transaction.atomic
def case_cancel(*, case: SurgeryCase, now: datetime | None = None, by=None, request=None) -> SurgeryCase:
    """Cancel a surgery and every reminder not yet sent for it; the patient is told."""
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status == SurgeryCase.Status.CANCELLED:
        return case
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be cancelled."})
    case.status = SurgeryCase.Status.CANCELLED
    case.save(update_fields=["status", "updated_at"])
    planning.cancel_pending(tasks=Task.objects.filter(checklist__case=case), reason="surgery cancelled")
    # News of this surgery not yet sent (booked, moved) is overtaken: only the cancellation goes.
    Reminder.objects.filter(announcement__case=case, status=Reminder.Status.PENDING).update(
        status=Reminder.Status.CANCELLED, last_error="surgery cancelled", updated_at=timezone.now()
    )
    announce(patient=case.patient, event=Announcement.Event.CANCELLED, case=case, old_date=case.surgery_date,
             old_time=case.surgery_time, now=now)
    _audit(by, case, "cancel", request)
    return case


@transaction.atomic
def case_complete(*, case: SurgeryCase, now: datetime | None = None, by=None, request=None) -> SurgeryCase:
    """Mark a surgery done: the patient's app turns to the recovery.

    Only on or after the surgery day, in the patient's time zone. The recovery steps keep
    their reminders; reminders still pending for preparation steps are cancelled, as there
    is nothing left to prepare. Marking a done surgery done again changes nothing.
    """
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status == SurgeryCase.Status.DONE:
        return case
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be marked done."})
    if case.surgery_date > case.patient.local_today(now):
        raise ValidationError(
            {"surgery_date": f"The surgery is planned for {case.surgery_date.isoformat()}; "
             "it can be marked done from that day on."}
        )
    case.status = SurgeryCase.Status.DONE
    case.save(update_fields=["status", "updated_at"])
    planning.cancel_pending(
        tasks=Task.objects.filter(checklist__case=case, definition__offset_days__lte=0), reason="surgery done"
    )
    _audit(by, case, "complete", request)
    return case


# --- Many cases at once -----------------------------------------------------------------------
# A protocol rolled out to a clinic's surgeries, a surgeon's list moved: the verbs above for a
# batch of cases, worked through in chunks whose queries do not depend on the number of cases,
# steps or reminders (bulk inserts and updates of a few thousand rows each). One transaction:
# every case or none.

BULK_CHUNK = 500


@transaction.atomic
def cases_reschedule_bulk(*, moves: dict, now: datetime | None = None) -> int:
    """case_reschedule for many cases: {case or id: new surgery date}; surgery times are kept.

    The same rules as one move (only scheduled surgeries of followed patients, a date not in
    the past nor too far ahead); open steps follow, pending reminders are re-planned, and each
    patient whose date changed is told, with the steps that moved. Returns how many moved.
    """
    now = now or timezone.now()
    dates = {getattr(case, "pk", case): day for case, day in moves.items()}
    ids = sorted(dates)
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start:start + BULK_CHUNK]
        cases = list(SurgeryCase.objects.select_for_update(of=("self",)).select_related("patient").filter(pk__in=chunk))
        problems = {pk: "no such surgery" for pk in set(chunk) - {c.pk for c in cases}}
        for case in cases:
            if case.status != SurgeryCase.Status.SCHEDULED:
                problems[case.pk] = f"a {case.status} surgery cannot be moved"
                continue
            if not case.patient.is_followed:
                problems[case.pk] = f"this patient is {case.patient.status}"
                continue
            try:
                _check_surgery_date(case.patient, dates[case.pk], now)
            except ValidationError as exc:
                problems[case.pk] = " ".join(exc.message_dict.get("surgery_date", exc.messages))
        checklist_services.refuse_cases(problems)
        old_dates = {case.pk: case.surgery_date for case in cases}
        for case in cases:
            case.surgery_date, case.updated_at = dates[case.pk], now
        bulk_update_rows(SurgeryCase, cases, ["surgery_date", "updated_at"], batch_size=BULK_CHUNK)
        tasks = checklist_services.checklists_recompute_dates_bulk(cases=cases, now=now)
        bulk_planning.replan_bulk(tasks=tasks, now=now)
        moved_steps: dict[int, list] = {case.pk: [] for case in cases}
        for task in sorted(tasks, key=lambda t: (t.due_date, t.position)):
            if task.status == Task.Status.OPEN and task.due_before != task.due_date:
                moved_steps[task.checklist.case_id].append(
                    {"definition": task.definition_id, "old_due": task.due_before.isoformat(),
                     "new_due": task.due_date.isoformat()}
                )
        announce_bulk(
            [
                {"patient": case.patient, "event": Announcement.Event.MOVED, "case": case,
                 "old_date": old_dates[case.pk], "old_time": case.surgery_time, "new_date": case.surgery_date,
                 "new_time": case.surgery_time, "steps": moved_steps[case.pk]}
                for case in cases
                if old_dates[case.pk] != case.surgery_date
            ],
            now=now,
        )
    return len(ids)
