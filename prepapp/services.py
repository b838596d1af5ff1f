"""Verbs that change patients and surgery cases. Each runs in one transaction."""

from __future__ import annotations

from datetime import date, datetime, time

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import reminders
from .models import AuditEntry, Organization, Patient, SurgeryCase

User = get_user_model()

PATIENT_FIELDS = (
    "full_name", "contact_email", "time_zone", "language", "weight_kg",
    "smoker", "diabetic", "on_blood_thinners", "takes_nsaids",
)
# Changing any of these moves or changes the channels of the patient's future reminders.
REPLANNING_FIELDS = {
    "reminder_time", "quiet_hours_start", "quiet_hours_end", "time_zone",
    "push_enabled", "email_enabled", "inapp_enabled", "contact_email",
}
PREFERENCE_FIELDS = (
    "reminder_time", "quiet_hours_start", "quiet_hours_end", "push_enabled", "email_enabled",
    "inapp_enabled", "language", "time_zone",
)


def _full_clean(obj, exclude=None):
    obj.full_clean(exclude=exclude, validate_unique=False)


@transaction.atomic
def patient_enrol(*, organization: Organization, full_name: str, **details) -> Patient:
    """Create a patient record with a login that only the invitation code opens."""
    unknown = set(details) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown patient fields: {', '.join(sorted(unknown))}")
    patient = Patient(organization=organization, full_name=full_name, **details)
    _full_clean(patient, exclude=["user", "invitation_code"])
    user = User(username=f"patient-{patient.invitation_code.lower()}", email=patient.contact_email)
    user.set_unusable_password()
    user.save()
    patient.user = user
    patient.save()
    return patient


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
    _full_clean(patient, exclude=["user", "invitation_code"])
    patient.save()
    if set(changes) & REPLANNING_FIELDS:
        _replan_patient(patient)
    if "contact_email" in changes and patient.user_id:
        User.objects.filter(pk=patient.user_id).update(email=patient.contact_email)
    return patient


def _replan_patient(patient: Patient, now: datetime | None = None):
    from checklists.models import Task

    tasks = Task.objects.filter(
        checklist__case__patient=patient,
        checklist__case__status=SurgeryCase.Status.SCHEDULED,
        status=Task.Status.OPEN,
    ).select_related("definition")
    reminders.replan_for_tasks(tasks=tasks, patient=patient, now=now)


@transaction.atomic
def patient_accept_invitation(*, code: str, now: datetime | None = None) -> Patient:
    """Find the patient an invitation code belongs to and note the first sign-in."""
    normalized = (code or "").strip().upper().replace("-", "").replace(" ", "")
    patient = Patient.objects.select_for_update().filter(invitation_code=normalized).first()
    if patient is None or patient.user_id is None:
        raise ValidationError({"code": "This code is not valid. Please check it with your care team."})
    if patient.invitation_accepted_at is None:
        patient.invitation_accepted_at = now or timezone.now()
        patient.save(update_fields=["invitation_accepted_at"])
    return patient


def _check_surgery_date(patient: Patient, surgery_date: date, now: datetime | None):
    if surgery_date < patient.local_today(now):
        raise ValidationError({"surgery_date": "The surgery date cannot be in the past."})


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
    _check_surgery_date(patient, surgery_date, now)
    if SurgeryCase.objects.filter(patient=patient, status=SurgeryCase.Status.SCHEDULED).exists():
        raise ValidationError({"patient": "This patient already has a scheduled surgery; move or cancel that one."})
    case = SurgeryCase(
        patient=patient, procedure=procedure, surgeon=surgeon, surgery_date=surgery_date, surgery_time=surgery_time
    )
    _full_clean(case, exclude=["patient"])
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
    from checklists.models import Checklist
    from checklists.services import checklist_recompute_dates

    now = now or timezone.now()
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be moved."})
    _check_surgery_date(case.patient, surgery_date, now)
    case.surgery_date, case.surgery_time = surgery_date, surgery_time
    case.save(update_fields=["surgery_date", "surgery_time", "updated_at"])
    checklist = Checklist.objects.filter(case=case).select_related("case__patient").first()
    if checklist:
        tasks = checklist_recompute_dates(checklist=checklist, now=now)
        reminders.replan_for_tasks(tasks=tasks, patient=case.patient, now=now)
    return case


@transaction.atomic
def case_cancel(*, case: SurgeryCase, now: datetime | None = None) -> SurgeryCase:
    """Cancel a surgery and every reminder not yet sent for it."""
    from checklists.models import Task

    case = SurgeryCase.objects.select_for_update().get(pk=case.pk)
    if case.status == SurgeryCase.Status.CANCELLED:
        return case
    if case.status != SurgeryCase.Status.SCHEDULED:
        raise ValidationError({"status": f"A {case.status} surgery cannot be cancelled."})
    case.status = SurgeryCase.Status.CANCELLED
    case.save(update_fields=["status", "updated_at"])
    reminders.cancel_pending(tasks=Task.objects.filter(checklist__case=case), reason="surgery cancelled")
    return case


def audit_record(*, actor, patients, action: str, path: str = "") -> None:
    """Note that a member of staff read or changed these patients' records."""
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(actor=actor, patient_id=getattr(p, "pk", p), action=action, path=path[:300], at=now)
        for p in patients
    )
