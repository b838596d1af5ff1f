"""Changing a patient's details, preferences and status; the future reminders follow."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from checklists.selectors import tasks_open_for_patient
from prepapp.audit import audit_record
from prepapp.facts import FACTS
from prepapp.models import Patient
from prepapp.reminders import planning
from prepapp.services import PATIENT_FIELDS, PREFERENCE_FIELDS, full_clean, user_sign_out_everywhere
from prepapp.workflows.facts import patient_update_facts

User = get_user_model()

# A surgery is booked at most this far ahead: a date years away is a typing mistake, and every
# step's date (and the calendar) is computed from it.
MAX_DAYS_AHEAD = 2 * 365

# Changing any of these moves or changes the channels of the patient's future reminders.
REPLANNING_FIELDS = {
    "reminder_time", "quiet_hours_start", "quiet_hours_end", "time_zone",
    "push_enabled", "email_enabled", "inapp_enabled", "contact_email", "reminder_style", "channel_policy",
}


@transaction.atomic
def patient_update(*, patient: Patient, by=None, path: str = "", ip: str = "", **changes) -> Patient:
    """Change a patient's details or preferences; future reminders follow the new preferences.

    Facts among the changes go through patient_update_facts, which re-tailors the checklist.
    """
    allowed = set(PATIENT_FIELDS) | set(PREFERENCE_FIELDS)
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"unknown patient fields: {', '.join(sorted(unknown))}")
    facts = {name: changes.pop(name) for name in FACTS if name in changes}
    if facts:
        patient = patient_update_facts(patient=patient, facts=facts, by=by, path=path, ip=ip).patient
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    for name, value in changes.items():
        setattr(patient, name, value)
    full_clean(patient, exclude=["user", "invitation_code"])
    patient.save()
    if set(changes) & REPLANNING_FIELDS:
        planning.replan_for_tasks(tasks=tasks_open_for_patient(patient), patient=patient)
    if "contact_email" in changes and patient.user_id:
        User.objects.filter(pk=patient.user_id).update(email=patient.contact_email)
    if by is not None and by.pk != patient.user_id:
        audit_record(actor=by, patients=[patient], action="update", path=path, ip=ip)
    return patient


def refuse_unless_followed(patient: Patient) -> None:
    # Surgeries and checklists are planned only for patients the care team follows.
    if not patient.is_followed:
        raise ValidationError(
            {"patient": f"This patient is {patient.status}; make the record active again first."}
        )


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
