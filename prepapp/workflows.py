"""Workflows: the verbs that span the care records, the checklists and the reminder engine.

Booking, moving and cancelling a surgery, assigning its checklist, ticking steps off and
changing reminder preferences each move more than one layer at once: the case, the
checklist's dates and the outbox must agree when the transaction commits. They live here,
above all three layers, so that the layers below never import upward. Each verb runs in one
transaction; views, admin actions and management commands call these.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from checklists import services as checklist_services
from checklists.models import Checklist, ProtocolVersion, Task
from checklists.selectors import tasks_open_for_patient

from .audit import audit_record
from .models import Patient, SurgeryCase
from .reminders import planning
from .services import PATIENT_FIELDS, PREFERENCE_FIELDS, full_clean, user_sign_out_everywhere

User = get_user_model()

# A surgery is booked at most this far ahead: a date years away is a typing mistake, and every
# step's date (and the calendar) is computed from it.
MAX_DAYS_AHEAD = 2 * 365

# Changing any of these moves or changes the channels of the patient's future reminders.
REPLANNING_FIELDS = {
    "reminder_time", "quiet_hours_start", "quiet_hours_end", "time_zone",
    "push_enabled", "email_enabled", "inapp_enabled", "contact_email",
}


@transaction.atomic
def patient_update(*, patient: Patient, **changes) -> Patient:
    """Change a patient's details or preferences; future reminders follow the new preferences."""
    allowed = set(PATIENT_FIELDS) | set(PREFERENCE_FIELDS)
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"unknown patient fields: {', '.join(sorted(unknown))}")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    for name, value in changes.items():
        setattr(patient, name, value)
    full_clean(patient, exclude=["user", "invitation_code"])
    patient.save()
    if set(changes) & REPLANNING_FIELDS:
        planning.replan_for_tasks(tasks=tasks_open_for_patient(patient), patient=patient)
    if "contact_email" in changes and patient.user_id:
        User.objects.filter(pk=patient.user_id).update(email=patient.contact_email)
    return patient


def _refuse_unless_followed(patient: Patient) -> None:
    # Surgeries and checklists are planned only for patients the care team follows.
    if not patient.is_followed:
        raise ValidationError(
            {"patient": f"This patient is {patient.status}; make the record active again first."}
        )


def _check_surgery_date(patient: Patient, surgery_date: date, now: datetime | None):
    today = patient.local_today(now)
    if surgery_date < today:
        raise ValidationError({"surgery_date": "The surgery date cannot be in the past."})
    if surgery_date > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError(
            {"surgery_date": f"The surgery date must be within {MAX_DAYS_AHEAD // 365} years from today."}
        )


@transaction.atomic
def case_book(
    *,
    patient: Patient,
    procedure: str,
    surgery_date: date,
    surgeon: str = "",
    surgery_time: time | None = None,
    now: datetime | None = None,
) -> SurgeryCase:
    """Book a surgery for a patient. A patient has at most one scheduled surgery at a time."""
    _refuse_unless_followed(patient)
    _check_surgery_date(patient, surgery_date, now)
    if SurgeryCase.objects.filter(patient=patient, status=SurgeryCase.Status.SCHEDULED).exists():
        raise ValidationError({"patient": "This patient already has a scheduled surgery; move or cancel that one."})
    case = SurgeryCase(
        patient=patient, procedure=procedure, surgeon=surgeon, surgery_date=surgery_date, surgery_time=surgery_time
    )
    full_clean(case, exclude=["patient"])
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError as exc:  # a concurrent booking won the race for the unique constraint
        raise ValidationError({"patient": "This patient already has a scheduled surgery."}) from exc
    return case


@transaction.atomic
def case_reschedule(
    *, case: SurgeryCase, surgery_date: date, surgery_time: time | None = None, now: datetime | None = None
) -> SurgeryCase:
    """Move a surgery: every open task's dates follow, and every pending reminder is re-planned."""
    now = now or timezone.now()
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be moved."})
    _refuse_unless_followed(case.patient)
    _check_surgery_date(case.patient, surgery_date, now)
    case.surgery_date, case.surgery_time = surgery_date, surgery_time
    case.save(update_fields=["surgery_date", "surgery_time", "updated_at"])
    checklist = Checklist.objects.filter(case=case).select_related("case__patient").first()
    if checklist:
        tasks = checklist_services.checklist_recompute_dates(checklist=checklist, now=now)
        planning.replan_for_tasks(tasks=tasks, patient=case.patient, now=now)
    return case


@transaction.atomic
def case_cancel(*, case: SurgeryCase, now: datetime | None = None) -> SurgeryCase:
    """Cancel a surgery and every reminder not yet sent for it."""
    case = SurgeryCase.objects.select_for_update().get(pk=case.pk)
    if case.status == SurgeryCase.Status.CANCELLED:
        return case
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be cancelled."})
    case.status = SurgeryCase.Status.CANCELLED
    case.save(update_fields=["status", "updated_at"])
    planning.cancel_pending(tasks=Task.objects.filter(checklist__case=case), reason="surgery cancelled")
    return case


@transaction.atomic
def checklist_assign(
    *, case: SurgeryCase, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None
) -> Checklist:
    """Give a scheduled surgery its checklist from a protocol version, and plan the steps' reminders.

    See checklists.services.checklist_build for what is copied and when a checklist may be
    replaced; a replaced checklist's reminders go with its steps.
    """
    now = now or timezone.now()
    _refuse_unless_followed(case.patient)
    checklist = checklist_services.checklist_build(
        case=case, protocol_version=protocol_version, assigned_by=assigned_by, now=now
    )
    planning.plan_for_tasks(
        tasks=checklist.tasks.select_related("definition"), patient=checklist.case.patient, now=now
    )
    return checklist


@transaction.atomic
def task_complete(*, task: Task, by, now: datetime | None = None) -> Task:
    """Tick a step off and cancel its pending reminders. Ticking a done step again changes nothing."""
    task, changed = checklist_services.task_mark_done(task=task, by=by, now=now or timezone.now())
    if changed:
        planning.cancel_pending(tasks=[task], reason="task done")
    return task


@transaction.atomic
def task_reopen(*, task: Task, by, now: datetime | None = None) -> Task:
    """Undo a tick: the step is open again and its future reminders are planned again."""
    now = now or timezone.now()
    task, changed = checklist_services.task_mark_open(task=task, by=by)
    if changed:
        planning.replan_for_tasks(tasks=[task], patient=task.checklist.case.patient, now=now)
    return task


# What each status change is called in the audit trail.
STATUS_ACTIONS = {
    Patient.Status.ARCHIVED: "archive",
    Patient.Status.DISCHARGED: "discharge",
    Patient.Status.ACTIVE: "reactivate",
}


@transaction.atomic
def patient_set_status(
    *, patient: Patient, status: str, by, reason: str = "", request=None, now: datetime | None = None
) -> Patient:
    """Archive, discharge or reactivate a patient; the record itself is always kept.

    - discharged (care finished): off the roster by default; reminders not yet sent are
      cancelled; the patient keeps their sign-in and can still open their record.
    - archived (entered by mistake, or no longer followed): the same, and the patient is
      signed out everywhere and cannot sign in (codes and links are refused) until reactivated.
    - active again: the login works again (a new invitation may be needed), and the open
      steps' future reminders are planned again.

    Setting the status the patient already has changes nothing and leaves no entry.
    """
    if status not in Patient.Status.values:
        raise ValidationError({"status": f"Unknown status “{status}”."})
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status == status:
        return patient
    patient.status = status
    patient.status_changed_at = now
    patient.status_reason = (reason or "").strip()[:200] if status != Patient.Status.ACTIVE else ""
    patient.save(update_fields=["status", "status_changed_at", "status_reason"])
    if patient.user_id:
        # Only an archived record locks its patient out.
        User.objects.filter(pk=patient.user_id).update(is_active=status != Patient.Status.ARCHIVED)
        if status == Patient.Status.ARCHIVED:
            user_sign_out_everywhere(user=patient.user, now=now)
            Patient.objects.filter(pk=patient.pk).update(invitation_code_hash=None, invitation_expires_at=None)
            patient.invitation_code_hash = patient.invitation_expires_at = None
    if status == Patient.Status.ACTIVE:
        planning.replan_for_tasks(tasks=tasks_open_for_patient(patient), patient=patient, now=now)
    else:
        planning.cancel_pending(patient=patient, reason=f"patient {status}")
    audit_record(actor=by, patients=[patient], action=STATUS_ACTIONS[status], request=request)
    return patient
