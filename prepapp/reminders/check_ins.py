"""The care team hears of check-ins: at once of a warning sign, the next day of a missed check-in.

- `send_red_flag_email` sends the organization's coordinators and clinical leads one email
  about one red-flag alert, as soon as the check-in commits (a Celery task, queued on
  commit). Setting `Alert.emailed_at` by compare-and-set is the key: a redelivered task, or
  two workers, send it once.
- `check_ins_missed` (each escalation beat tick) raises one soft alert per case and day for
  a check-in day that passed, on the patient's calendar, without a check-in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from checklists import safety
from checklists.models import CheckIn
from prepapp.models import StaffMembership, SurgeryCase
from prepapp.reminders.models import Alert

log = logging.getLogger(__name__)

URGENCY_WORDS = {"emergency": "EMERGENCY: told to call emergency services now",
                 "call_today": "told to call the care team today"}


def care_team_of(organization_id: int):
    """The organization's coordinators and clinical leads who can be emailed."""
    return (
        get_user_model().objects.filter(
            memberships__organization_id=organization_id,
            memberships__role__in=[StaffMembership.Role.COORDINATOR, StaffMembership.Role.CLINICAL_LEAD],
            is_active=True,
        ).exclude(email="").distinct().order_by("id")
    )


def red_flag_email(alert: Alert, recipients: list[str]) -> EmailMessage:
    check_in = alert.check_in
    patient = alert.patient
    signs = {s["key"]: s["text"] for s in (_version_signs(check_in) or [])}
    lines = [
        f"{patient.full_name} reported warning signs in the check-in of day {check_in.day} after surgery "
        f"({check_in.answered_at:%Y-%m-%d %H:%M} UTC).",
        "",
        f"Urgency: {check_in.urgency} ({URGENCY_WORDS.get(check_in.urgency, check_in.urgency)}).",
        "Signs:",
        *[f"- {signs.get(key, key)}" for key in check_in.red_flags],
        "",
        "The app told the patient what to do at once. Please follow up and acknowledge the alert:",
        f"{settings.SITE_URL}/coordinator/patients/{patient.id}/#alerts",
    ]
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return EmailMessage(
        subject=f"Check-in warning sign ({check_in.urgency}): {patient.full_name}, day {check_in.day}",
        body="\n".join(lines),
        to=recipients,
        headers={
            "Message-ID": f"<check-in-alert-{alert.id}@{domain}>",
            "X-Check-In-Alert": str(alert.id),
            "Auto-Submitted": "auto-generated",
        },
    )


def _version_signs(check_in: CheckIn):
    checklist = getattr(check_in.case, "checklist", None)
    if checklist is None:
        return []
    return (checklist.protocol_version.warning_signs or {}).get("signs", [])


def send_red_flag_email(*, alert_id: int, now: datetime | None = None) -> bool:
    """Email the care team about one red-flag alert, once; True if this call sent it.

    On a failure to send, the mark is taken back so that a retry sends it.
    """
    now = now or timezone.now()
    won = Alert.objects.filter(id=alert_id, kind=Alert.Kind.CHECK_IN_RED_FLAG, emailed_at__isnull=True).update(
        emailed_at=now
    )
    if not won:
        return False
    alert = Alert.objects.select_related(
        "patient", "check_in__case__checklist__protocol_version"
    ).get(pk=alert_id)
    recipients = list(care_team_of(alert.organization_id).values_list("email", flat=True))
    if not recipients:
        log.warning("red-flag alert %s: nobody at organization %s has an email address", alert_id,
                    alert.organization_id)
        return False
    try:
        red_flag_email(alert, recipients).send()
    except Exception:
        Alert.objects.filter(id=alert_id, emailed_at=now).update(emailed_at=None)
        raise
    return True


@transaction.atomic
def check_ins_missed(*, now: datetime | None = None) -> list[Alert]:
    """A soft alert for each followed patient whose check-in was due yesterday (their calendar) and not made.

    One per case and day (a unique key): running again raises nothing new.
    """
    now = now or timezone.now()
    latest = now.date() + timedelta(days=1)  # a cheap bound; each patient's own calendar decides
    cases = SurgeryCase.objects.filter(
        status__in=[SurgeryCase.Status.SCHEDULED, SurgeryCase.Status.DONE],
        patient__status="active",
        surgery_date__lt=latest,
        surgery_date__gte=latest - timedelta(days=safety.CHECK_IN_WEEKLY_UNTIL_DAY + 3),
    ).select_related("patient")
    wanted = []
    for case in cases:
        yesterday = case.patient.local_today(now) - timedelta(days=1)
        day = (yesterday - case.surgery_date).days
        if not safety.check_in_due(case.surgery_date, yesterday):
            continue
        wanted.append(Alert(
            organization_id=case.patient.organization_id, patient=case.patient, kind=Alert.Kind.CHECK_IN_MISSED,
            case=case, check_in_day=day, due_date=yesterday, raised_at=now,
        ))
    if not wanted:
        return []
    made = set(CheckIn.objects.filter(case__in=[a.case_id for a in wanted]).values_list("case_id", "day"))
    new = [a for a in wanted if (a.case_id, a.check_in_day) not in made]
    Alert.objects.bulk_create(new, ignore_conflicts=True)
    return list(Alert.objects.filter(kind=Alert.Kind.CHECK_IN_MISSED, raised_at=now))
