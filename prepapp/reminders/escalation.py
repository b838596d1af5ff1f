"""Escalation: a critical step overdue too long raises an alert; coordinators get one morning email.

- `raise_alerts` finds open critical steps (`critical: true` in the protocol) whose due date
  passed at least `escalate_after_days` days ago on the patient's own calendar, and raises
  one Alert per step and due date (a unique key: raising again changes nothing). The
  patient's next digest names the missing step (planning adds a digest day for it).
- `send_alert_emails` sends each coordinator of an organization with open alerts one email
  a day, from ALERT_EMAIL_HOUR on the organization's clock until noon: a row per
  (coordinator, organization, day) is the key, and whoever moves it from pending to sending
  (compare-and-set) is the one who sends it.
- `alert_acknowledge` closes an alert with the coordinator's note, audited.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from checklists.models import Task
from prepapp.audit import audit_record
from prepapp.models import Organization, StaffMembership, SurgeryCase
from prepapp.reminders import check_ins, family, planning
from prepapp.reminders.models import Alert, AlertEmail

log = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 2000
# The morning email goes out from ALERT_EMAIL_HOUR until this hour (the organization's clock):
# a beat that was down at 8 still sends it at 9, but a new alert at 3 pm waits for tomorrow.
MORNING_ENDS_HOUR = 12


def overdue_days(task: Task, now: datetime) -> int:
    """Whole days the step is past its due date on the patient's calendar (0 when not overdue)."""
    patient = task.checklist.case.patient
    return max(0, (patient.local_today(now) - task.due_date).days)


@transaction.atomic
def raise_alerts(*, now: datetime | None = None) -> list[Alert]:
    """Raise an alert for each critical step overdue by its `escalate_after_days`; returns the new ones."""
    now = now or timezone.now()
    candidates = Task.objects.filter(
        status=Task.Status.OPEN,
        checklist__case__status=SurgeryCase.Status.SCHEDULED,
        definition__critical=True,
        definition__escalate_after_days__isnull=False,
        due_date__lt=now.date() + timedelta(days=1),  # a cheap bound; each patient's own day decides below
    ).select_related("definition", "checklist__case__patient")
    wanted = []
    for task in candidates:
        late = overdue_days(task, now)
        if late >= max(1, task.definition.escalate_after_days):
            patient = task.checklist.case.patient
            wanted.append(
                Alert(organization_id=patient.organization_id, patient=patient, task=task, due_date=task.due_date,
                      days_overdue=late, raised_at=now)
            )
    if not wanted:
        return []
    known = set(
        Alert.objects.filter(kind=Alert.Kind.OVERDUE_STEP, task__in=[a.task_id for a in wanted])
        .values_list("task_id", "due_date")
    )
    new = [a for a in wanted if (a.task_id, a.due_date) not in known]
    # ignore_conflicts: a second beat (or worker) raising the same alert at the same moment adds nothing.
    Alert.objects.bulk_create(new, ignore_conflicts=True)
    raised = list(Alert.objects.filter(raised_at=now, task__in=[a.task_id for a in new]).select_related("patient"))
    for patient in {alert.patient_id: alert.patient for alert in raised}.values():
        # The next message the patient gets (a digest at their reminder time) names the missing step.
        planning.replan_digests(patient=patient, now=now)
    if raised:
        log.warning("raised %s alerts about overdue critical steps", len(raised))
    return raised


def open_alerts(organization_ids) -> "list[Alert]":
    return list(
        Alert.objects.filter(organization_id__in=organization_ids, acknowledged_at__isnull=True)
        .select_related("patient", "task__definition")
        .order_by("due_date", "patient__full_name", "id")
    )


def _morning_day(organization: Organization, now: datetime):
    """The organization's calendar day if it is morning there (email time), else None."""
    local = now.astimezone(ZoneInfo(organization.time_zone or "UTC"))
    if settings.ALERT_EMAIL_HOUR <= local.hour < max(MORNING_ENDS_HOUR, settings.ALERT_EMAIL_HOUR + 1):
        return local.date()
    return None


def coordinators_of(organization: Organization):
    """The care coordinators of an organization who can be emailed."""
    return (
        get_user_model()
        .objects.filter(
            memberships__organization=organization,
            memberships__role=StaffMembership.Role.COORDINATOR,
            is_active=True,
        )
        .exclude(email="")
        .distinct()
        .order_by("id")
    )


@dataclass
class EmailReport:
    planned: int = 0
    sent: int = 0
    failed: int = 0


def claim_alert_email(row_id: int, now: datetime) -> bool:
    """Compare-and-set pending -> sending (or a sending row whose sender vanished): True if this caller won."""
    lease = now - timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    from_pending = AlertEmail.objects.filter(id=row_id, status=AlertEmail.Status.PENDING)
    from_lost = AlertEmail.objects.filter(id=row_id, status=AlertEmail.Status.SENDING, claimed_at__lt=lease)
    changes = dict(status=AlertEmail.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return bool(from_pending.update(**changes) or from_lost.update(**changes))


# Most urgent first in the morning email: a warning sign reported, then missed steps, then missed check-ins.
EMAIL_ORDER = {Alert.Kind.CHECK_IN_RED_FLAG: 0, Alert.Kind.OVERDUE_STEP: 1, Alert.Kind.CHECK_IN_MISSED: 2}


def alert_detail(alert: Alert, day) -> str:
    """What the alert is, in a few words after the patient's name, as of the morning `day`."""
    if alert.kind == Alert.Kind.CHECK_IN_RED_FLAG:
        return _("warning sign reported in the check-in of day %(day)s after surgery") % {"day": alert.check_in_day}
    if alert.kind == Alert.Kind.CHECK_IN_MISSED:
        return _("no check-in on day %(day)s after surgery (%(date)s)") % {
            "day": alert.check_in_day, "date": formats.date_format(alert.due_date, "DATE_FORMAT")}
    days = max(alert.days_overdue, (day - alert.due_date).days)
    return ngettext("%(step)s: due %(date)s, %(days)d day overdue", "%(step)s: due %(date)s, %(days)d days overdue",
                    days) % {"step": alert.title, "date": formats.date_format(alert.due_date, "DATE_FORMAT"),
                             "days": days}


def build_alert_email(*, user, organization: Organization, alerts: list[Alert], day) -> EmailMultiAlternatives:
    ordered = sorted(alerts, key=lambda a: (EMAIL_ORDER.get(a.kind, 9), a.raised_at, a.id))
    rows = [
        {
            "patient": alert.patient.full_name,
            "kind": alert.kind,
            "urgent": alert.kind == Alert.Kind.CHECK_IN_RED_FLAG,
            "detail": alert_detail(alert, day),
            "link": f"{settings.SITE_URL}/coordinator/patients/{alert.patient_id}/#alerts",
        }
        for alert in ordered
    ]
    context = {"user": user, "organization": organization, "rows": rows, "day": day,
               "roster_link": f"{settings.SITE_URL}/coordinator/"}
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    email = EmailMultiAlternatives(
        subject=f"{len(rows)} open alert{'s' if len(rows) != 1 else ''} at {organization.name}",
        body=render_to_string("reminders/email/alerts.txt", context),
        to=[user.email],
        headers={
            # One id per coordinator, organization and day: a repeat is shown once.
            "Message-ID": f"<alerts-{organization.id}-{user.id}-{day:%Y%m%d}@{domain}>",
            "X-Alert-Email": f"{organization.slug}/{user.get_username()}/{day:%Y-%m-%d}",
            "Auto-Submitted": "auto-generated",
        },
    )
    email.attach_alternative(render_to_string("reminders/email/alerts.html", context), "text/html")
    return email


def send_alert_emails(*, now: datetime | None = None) -> EmailReport:
    """Send today's morning email to each coordinator of every organization with open alerts (once a day)."""
    now = now or timezone.now()
    report = EmailReport()
    organizations = Organization.objects.filter(alerts__acknowledged_at__isnull=True).distinct()
    for organization in organizations:
        day = _morning_day(organization, now)
        if day is None:
            continue
        rows = [AlertEmail(user=user, organization=organization, day=day) for user in coordinators_of(organization)]
        AlertEmail.objects.bulk_create(rows, ignore_conflicts=True)
        report.planned += len(rows)
        alerts = None
        due = AlertEmail.objects.filter(
            organization=organization, day=day, status__in=[AlertEmail.Status.PENDING, AlertEmail.Status.SENDING]
        ).select_related("user")
        for row in due:
            if not claim_alert_email(row.id, now):
                continue  # another sender has it, or it is sent
            alerts = alerts if alerts is not None else open_alerts([organization.id])
            mine = AlertEmail.objects.filter(id=row.id, status=AlertEmail.Status.SENDING, claimed_at=now)
            try:
                build_alert_email(user=row.user, organization=organization, alerts=alerts, day=day).send()
            except (smtplib.SMTPException, OSError) as exc:
                # Back to pending: the next tick tries again (still within the morning).
                mine.update(status=AlertEmail.Status.PENDING, last_error=f"{exc.__class__.__name__}: {exc}"[:500])
                report.failed += 1
                log.warning("alert email to %s failed: %r", row.user_id, exc)
                continue
            mine.update(status=AlertEmail.Status.SENT, sent_at=timezone.now(), alerts=len(alerts), last_error="")
            report.sent += 1
    return report


def escalate(*, now: datetime | None = None) -> tuple[int, EmailReport]:
    """One beat tick: raise what is due (overdue steps, missed check-ins), then send the morning emails due.

    The caregivers who get reminders hear of a newly overdue critical step: a row each in the
    outbox, on their own channels, due now or when their quiet hours end (family.py).
    """
    overdue = raise_alerts(now=now)
    family.plan_overdue_alerts(alerts=overdue, now=now)
    raised = overdue + check_ins.check_ins_missed(now=now)
    return len(raised), send_alert_emails(now=now)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, by, note: str, request=None, now: datetime | None = None) -> Alert:
    """A coordinator closes an alert with a note (what they did); the change is audited.

    Raises ValidationError naming `note` when it is empty or too long, and naming `alert`
    when someone acknowledged it already.
    """
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what was done, e.g. who was called and what they said."})
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH} characters."})
    alert = Alert.objects.select_for_update().select_related("patient").get(pk=alert.pk)
    if alert.acknowledged_at is not None:
        raise ValidationError({"alert": "This alert was already acknowledged."})
    alert.acknowledged_at, alert.acknowledged_by, alert.note = now or timezone.now(), by, note
    alert.save(update_fields=["acknowledged_at", "acknowledged_by", "note"])
    audit_record(actor=by, patients=[alert.patient], action="acknowledge-alert", request=request)
    return alert
