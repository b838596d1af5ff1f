"""Helpers for the safety net's tests: a patient some days after surgery."""

from datetime import timedelta

from prepapp.models import Organization, SurgeryCase


def after_surgery(patient, case, days: int, *, done: bool = True):
    """Put the case `days` days after surgery (on the patient's calendar), marked done or not."""
    SurgeryCase.objects.filter(pk=case.pk).update(
        surgery_date=patient.local_today() - timedelta(days=days),
        status=SurgeryCase.Status.DONE if done else SurgeryCase.Status.SCHEDULED,
    )
    case.refresh_from_db()
    return case


def phones(organization):
    Organization.objects.filter(pk=organization.pk).update(
        care_team_phone="+1 555 0100", after_hours_phone="+1 555 0199", check_in_hours="Monday to Friday, 8:00 to 17:00"
    )
