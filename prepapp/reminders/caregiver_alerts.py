"""Telling caregivers when a critical step is overdue: the alert the care team gets, the family hears of too.

Each caregiver who gets reminders (CaregiverLink.gets_reminders), of a patient the care team
still follows, is emailed once per newly raised alert, in the caregiver's own language. The
alert is raised once (its unique key), and this runs after that has committed: a crash in
between loses the caregivers' email, never sends it twice (the care team's own alert and the
patient's digest still carry it).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.translation import gettext as _

from checklists.payloads import definition_texts
from prepapp.models import CaregiverLink, Patient
from prepapp.reminders.models import Alert

log = logging.getLogger(__name__)


def caregivers_to_tell(patient: Patient):
    """The patient's live caregivers who asked for reminders (none once the care team stops following)."""
    if not patient.is_followed:
        return CaregiverLink.objects.none()
    return CaregiverLink.objects.filter(
        patient=patient, revoked_at__isnull=True, gets_reminders=True, caregiver__is_active=True
    ).select_related("patient__organization")


def overdue_step_email(alert: Alert, link: CaregiverLink) -> EmailMessage:
    """One caregiver's email about one overdue critical step, in the caregiver's language."""
    with translation.override(link.language):
        title = definition_texts(alert.task.definition, link.language)["title"]
        subject = _("%(patient)s: an important step is overdue") % {"patient": link.patient.full_name}
        body = render_to_string("reminders/email/caregiver_overdue_step.txt", {
            "link": link, "title": title, "due_date": formats.date_format(alert.due_date, "DATE_FORMAT"),
            "days": alert.days_overdue, "phone": link.patient.organization.care_team_phone,
            "url": f"{settings.SITE_URL}/",
        })
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    return EmailMessage(subject=subject, body=body, to=[link.email], headers={
        "Message-ID": f"<caregiver-alert-{alert.id}-{link.id}@{domain}>", "Auto-Submitted": "auto-generated",
    })


def tell_caregivers(*, alerts: list[Alert]) -> int:
    """Email the caregivers of each newly raised overdue-step alert; returns how many emails left."""
    sent = 0
    overdue = [a.pk for a in alerts if a.kind == Alert.Kind.OVERDUE_STEP]
    for alert in Alert.objects.filter(pk__in=overdue).select_related("patient", "task__definition"):
        for link in caregivers_to_tell(alert.patient):
            try:
                overdue_step_email(alert, link).send()
            except OSError as exc:  # smtplib's errors too: the others are still told
                log.warning("could not tell caregiver %s of alert %s (%s)", link.pk, alert.pk, exc.__class__.__name__)
            else:
                sent += 1
    return sent
