"""Messages to the family: the caregivers who get reminders hear what matters to them, on their own terms.

A caregiver's row in the outbox is a Reminder with `caregiver` set (their link to the
patient): it goes through the same claims, recheck, transports and recording as the
patient's, but everything about *how* it reaches them comes from the caregiver's own
settings (CaregiverSettings: channels, quiet hours, reminder time, language, time zone),
never from the patient's. What the family hears of:

- a critical step newly overdue (rule OVERDUE_ALERT_RULE, the alert's step and due date),
  as soon as the alert is raised, or when the caregiver's quiet hours end;
- the evening before surgery (DAY_BEFORE_RULE): arrival time and the eating and drinking cut-offs;
- the morning of surgery (DAY_OF_RULE): the ride home and the adult who stays 24 hours;
- the rules said again (RULES_RULE) on the days they change, as the patient hears them.

The beat plans the last three for today and tomorrow on the caregiver's calendar
(`plan_due`), beside the patient's own (safety_reminders.plan_due), and every row is
checked again just before it goes (`recheck`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from checklists import safety
from checklists.models import Checklist, Task
from prepapp.models import CaregiverLink, CaregiverSettings, Patient, SurgeryCase
from prepapp.reminders import safety_reminders
from prepapp.reminders.models import (
    DAY_BEFORE_RULE, DAY_OF_RULE, FAMILY_RULES, OVERDUE_ALERT_RULE, RULES_RULE, Alert, Reminder,
)
from prepapp.reminders.planning import channels_for
from prepapp.reminders.timing import first_moment_outside_quiet_hours, in_quiet_hours, local_send_time, to_utc

NO_LONGER_TOLD = "the caregiver no longer gets reminders of this patient"


def settings_of(link: CaregiverLink) -> CaregiverSettings:
    """The caregiver's own settings; an account from before they existed reads the invitation's choices."""
    try:
        return link.caregiver.caregiver_settings
    except CaregiverSettings.DoesNotExist:
        return CaregiverSettings(user=link.caregiver, language=link.language, time_zone=link.patient.time_zone)


def recipient_of(reminder: Reminder):
    """Whose hours, channels and language a row follows: the caregiver's for a family row, else the patient's."""
    if reminder.caregiver_id is None:
        return reminder.patient
    return settings_of(reminder.caregiver)


def address_of(reminder: Reminder) -> str:
    """Where a row's email goes."""
    if reminder.caregiver_id is None:
        return reminder.patient.contact_email
    own = settings_of(reminder.caregiver)
    return own.contact_email if own.email_enabled else ""


def language_of(reminder: Reminder) -> str:
    return recipient_of(reminder).language


def links_to_tell(patient_ids) -> dict[int, list[CaregiverLink]]:
    """{patient id: their live caregivers who get reminders}, each with their account and settings."""
    found: dict[int, list[CaregiverLink]] = {}
    links = CaregiverLink.objects.filter(
        patient_id__in=list(patient_ids), revoked_at__isnull=True, gets_reminders=True, caregiver__is_active=True,
    ).select_related("caregiver__caregiver_settings", "patient").order_by("id")
    for link in links:
        found.setdefault(link.patient_id, []).append(link)
    return found


# --- A critical step newly overdue -------------------------------------------------------------


def plan_overdue_alerts(*, alerts: list[Alert], now: datetime | None = None) -> int:
    """Plan each caregiver's message about each newly raised overdue-step alert; returns the rows planned.

    Due now, or when the caregiver's quiet hours end. Once per (caregiver, step, channel,
    due date) by the outbox's unique key, however often this runs.
    """
    now = now or timezone.now()
    overdue = [a for a in alerts if a.kind == Alert.Kind.OVERDUE_STEP and a.task_id]
    if not overdue:
        return 0
    patients = {p.pk: p for p in Patient.objects.filter(pk__in={a.patient_id for a in overdue})}
    tell = links_to_tell([pk for pk, p in patients.items() if p.is_followed])
    rows = []
    for alert in overdue:
        for link in tell.get(alert.patient_id, []):
            own = settings_of(link)
            send_at = first_moment_outside_quiet_hours(own, now)
            rows += [
                Reminder(patient_id=alert.patient_id, caregiver=link, task_id=alert.task_id, rule=OVERDUE_ALERT_RULE,
                         channel=channel, anchor_date=alert.due_date, send_at=send_at)
                for channel in channels_for(own)
            ]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


# --- The evening before, the day of surgery, the rules said again -------------------------------


def wanted_days(case: SurgeryCase, own: CaregiverSettings, *, version, lifts: dict[str, date], today: date):
    """(rule, day the row is about, day it goes out, wall-clock time where the caregiver lives)."""
    days = (today, today + timedelta(days=1))
    wanted = []
    if case.status == SurgeryCase.Status.SCHEDULED:
        if case.surgery_date - timedelta(days=1) in days:
            evening = safety_reminders.evening_before_time(own)
            wanted.append((DAY_BEFORE_RULE, case.surgery_date, case.surgery_date - timedelta(days=1), evening))
        if case.surgery_date in days:
            wanted.append((DAY_OF_RULE, case.surgery_date, case.surgery_date, local_send_time(own)))
    if version is not None:
        changes = safety.rule_change_days(version, surgery_date=case.surgery_date, facts=case.patient.facts)
        changes |= {lifted_on for lifted_on in lifts.values() if lifted_on >= case.surgery_date}
        wanted += [(RULES_RULE, day, day, local_send_time(own)) for day in sorted(changes & set(days))]
    return wanted


def rows_for(case: SurgeryCase, link: CaregiverLink, *, version, lifts, now: datetime) -> list[Reminder]:
    own = settings_of(link)
    zone = own.zone
    today = now.astimezone(zone).date()
    quiet_now = in_quiet_hours(now.astimezone(zone).time(), own.quiet_hours_start, own.quiet_hours_end)
    rows = []
    for rule, day, send_day, wall in wanted_days(case, own, version=version, lifts=lifts, today=today):
        send_at = to_utc(send_day, wall, zone)
        if send_at < now:
            # Its time today has passed (booked late, a lift this afternoon): now, unless the caregiver sleeps.
            if quiet_now or send_day != today:
                continue
            send_at = now
        rows += [Reminder(task=None, patient=case.patient, caregiver=link, rule=rule, channel=channel,
                          anchor_date=day, send_at=send_at) for channel in channels_for(own)]
    return rows


@transaction.atomic
def plan_due(*, now: datetime | None = None) -> int:
    """Plan the family's evening-before, day-of and rules messages for today and tomorrow; return the rows wanted.

    Rows already there are left alone, except a pending one whose time moved (the caregiver
    changed their reminder time or quiet hours) and one cancelled only because the plan changed.
    """
    now = now or timezone.now()
    cases = list(
        SurgeryCase.objects.filter(
            status__in=safety_reminders.LIVE, patient__status=Patient.Status.ACTIVE,
            surgery_date__gte=now.date() - timedelta(days=safety_reminders.FOLLOWED_FOR_DAYS),
            surgery_date__lte=now.date() + timedelta(days=3),
        ).select_related("patient")
    )
    tell = links_to_tell({case.patient_id for case in cases})
    cases = [case for case in cases if case.patient_id in tell]
    if not cases:
        return 0
    versions = {c.case_id: c.protocol_version
                for c in Checklist.objects.filter(case__in=cases).select_related("protocol_version")}
    lifts = safety_reminders.lift_days(cases)
    wanted = {}
    for case in cases:
        for link in tell[case.patient_id]:
            for row in rows_for(case, link, version=versions.get(case.pk), lifts=lifts.get(case.pk, {}), now=now):
                wanted[(row.caregiver_id, row.rule, row.channel, row.anchor_date)] = row
    if not wanted:
        return 0
    existing = Reminder.objects.select_for_update().filter(
        task__isnull=True, caregiver__in={key[0] for key in wanted}, rule__in=FAMILY_RULES,
        anchor_date__gte=now.date() - timedelta(days=1),
        status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED],
    )
    to_update = []
    for row in existing:
        new = wanted.pop((row.caregiver_id, row.rule, row.channel, row.anchor_date), None)
        if new is None:
            continue
        if row.status == Reminder.Status.CANCELLED and row.last_error.startswith(safety_reminders.PLAN_CHANGED):
            row.status, row.send_at, row.last_error = Reminder.Status.PENDING, new.send_at, ""
            to_update.append(row)
        elif row.status == Reminder.Status.PENDING and row.send_at != new.send_at and row.send_at > now:
            row.send_at = new.send_at
            to_update.append(row)
    if to_update:
        Reminder.objects.bulk_update(to_update, ["status", "send_at", "last_error"], batch_size=500)
    Reminder.objects.bulk_create(list(wanted.values()), ignore_conflicts=True, batch_size=500)
    return len(wanted) + len(to_update)


# --- Just before sending ---------------------------------------------------------------------


def recheck(reminder: Reminder, now: datetime) -> tuple[str, str] | None:
    """Whether a family row should still go out (before its channel and hours are checked): None if yes."""
    link = reminder.caregiver
    if link.revoked_at is not None or not link.gets_reminders or not link.caregiver.is_active:
        return Reminder.Status.CANCELLED, NO_LONGER_TOLD
    patient = reminder.patient
    if not patient.is_followed:
        return Reminder.Status.CANCELLED, f"patient {patient.status}"
    if reminder.rule == OVERDUE_ALERT_RULE:
        task = reminder.task
        if task is None or task.status != Task.Status.OPEN:
            return Reminder.Status.CANCELLED, "task done"
        if task.checklist.case.status == SurgeryCase.Status.CANCELLED:
            return Reminder.Status.CANCELLED, "surgery cancelled"
        return None
    if reminder.rule == DAY_OF_RULE:
        case = safety_reminders.live_case(patient)
        if case is None or case.status != SurgeryCase.Status.SCHEDULED or case.surgery_date != reminder.anchor_date:
            return Reminder.Status.CANCELLED, f"{safety_reminders.PLAN_CHANGED}: the surgery is not on this day"
        reminder.safety_case = case
        return None
    if reminder.rule in (DAY_BEFORE_RULE, RULES_RULE):
        return safety_reminders.recheck(reminder, now)
    return Reminder.Status.CANCELLED, f"unknown family rule {reminder.rule!r}"
