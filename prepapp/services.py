"""Verbs that change the care records alone (patients and their sign-in). Each runs in one transaction.

Verbs that also move checklists or reminders (booking, moving, cancelling a surgery, changing
reminder preferences) are workflows: see prepapp.workflows.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import Organization, Patient

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


def full_clean(obj, exclude=None):
    obj.full_clean(exclude=exclude, validate_unique=False)


@transaction.atomic
def patient_enrol(*, organization: Organization, full_name: str, **details) -> Patient:
    """Create a patient record with a login that only the invitation code opens."""
    unknown = set(details) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown patient fields: {', '.join(sorted(unknown))}")
    patient = Patient(organization=organization, full_name=full_name, **details)
    full_clean(patient, exclude=["user", "invitation_code"])
    user = User(username=f"patient-{patient.invitation_code.lower()}", email=patient.contact_email)
    user.set_unusable_password()
    user.save()
    patient.user = user
    patient.save()
    return patient


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
