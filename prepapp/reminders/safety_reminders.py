"""The safety net's own reminders: the evening before surgery, the check-in at home, the rules said again.

Rows without a task, one per (patient, rule, channel, day) by a unique key (models.PATIENT_RULES):

- "day-before": the evening before surgery (anchor date: the surgery day), at
  DAY_BEFORE_REMINDER_TIME where the patient lives, or at their own reminder time when
  that evening hour falls inside their quiet hours;
- "check-in": each check-in day after surgery (daily to day 14, then weekly to day 42), at
  the patient's reminder time; not sent once they have checked in that day;
- "rules": the first day of each recovery stage, the day after a rule ends, and the day the
  care team lifts a rule: the rules in force that day are said again, with what ended.

The beat plans them (`plan_due`) for today and tomorrow on each patient's calendar, from the
cases as they are at that moment. A booking, a move or a cancellation needs no replanning
here: every row is checked again just before it goes (`recheck`), a row whose day no longer
fits is cancelled, and the new days are planned at the next tick (a row cancelled because
the plan changed comes back if the plan changes back).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checklists import safety
from checklists.models import Checklist
from checklists.safety_records import CheckIn, RuleLift
from prepapp.models import Patient, SurgeryCase
from prepapp.reminders.models import CHECK_IN_RULE, DAY_BEFORE_RULE, PATIENT_RULES, RULES_RULE, Reminder
from prepapp.reminders.planning import channels_for
from prepapp.reminders.timing import in_quiet_hours, local_send_time, to_utc

PLAN_CHANGED = "plan changed"
LIVE = (SurgeryCase.Status.SCHEDULED, SurgeryCase.Status.DONE)
# How far back a surgery may be for its patient still to get any of these (the last rule end
# the shipped protocol has is in month 6; a rule lifted later is still announced).
FOLLOWED_FOR_DAYS = 400


def evening_before_time(patient: Patient) -> time:
    """The wall-clock time of the evening-before reminder: the clinic's hour, unless the patient sleeps then."""
    evening = time.fromisoformat(settings.DAY_BEFORE_REMINDER_TIME)
    if in_quiet_hours(evening, patient.quiet_hours_start, patient.quiet_hours_end):
        return local_send_time(patient)
    return evening


def wanted_days(case: SurgeryCase, *, version, today: date, lifts: dict[str, date]) -> list[tuple[str, date, time]]:
    """(rule, day, wall-clock time) of the rows the case's patient should get today or tomorrow."""
    patient = case.patient
    days = (today, today + timedelta(days=1))
    wanted = []
    if case.status == SurgeryCase.Status.SCHEDULED and case.surgery_date - timedelta(days=1) in days:
        wanted.append((DAY_BEFORE_RULE, case.surgery_date, evening_before_time(patient)))
    for day in days:
        if safety.check_in_due(case.surgery_date, day):
            wanted.append((CHECK_IN_RULE, day, local_send_time(patient)))
    if version is not None:
        changes = safety.rule_change_days(version, surgery_date=case.surgery_date, facts=patient.facts)
        changes |= {lifted_on for lifted_on in lifts.values() if lifted_on >= case.surgery_date}
        for day in sorted(changes & set(days)):
            wanted.append((RULES_RULE, day, local_send_time(patient)))
    return wanted


def rows_for(case: SurgeryCase, *, version, lifts: dict[str, date], now: datetime) -> list[Reminder]:
    patient = case.patient
    zone = patient.zone
    today = now.astimezone(zone).date()
    quiet_now = in_quiet_hours(now.astimezone(zone).time(), patient.quiet_hours_start, patient.quiet_hours_end)
    rows = []
    for rule, day, wall in wanted_days(case, version=version, today=today, lifts=lifts):
        send_day = day - timedelta(days=1) if rule == DAY_BEFORE_RULE else day
        send_at = to_utc(send_day, wall, zone)
        if send_at < now:
            # Its time today has passed (booked late, a lift this afternoon): now, unless the patient sleeps.
            if quiet_now or send_day != today:
                continue
            send_at = now
        for channel in channels_for(patient):
            rows.append(Reminder(task=None, patient=patient, rule=rule, channel=channel, anchor_date=day,
                                 send_at=send_at))
    return rows


def lift_days(cases) -> dict[int, dict[str, date]]:
    """{case id: {rule key: the day it was lifted, on the patient's calendar}}."""
    zones = {case.pk: case.patient.zone for case in cases}
    lifts: dict[int, dict[str, date]] = {}
    for case_id, key, lifted_at in RuleLift.objects.filter(case__in=list(zones)).values_list(
        "case_id", "rule_key", "lifted_at"
    ):
        lifts.setdefault(case_id, {})[key] = lifted_at.astimezone(zones[case_id]).date()
    return lifts


@transaction.atomic
def plan_due(*, now: datetime | None = None) -> int:
    """Plan the safety reminders of every followed patient for today and tomorrow; return the rows wanted.

    Rows already there are left alone, except a pending one whose time moved (the patient
    changed their reminder time) and one cancelled only because the plan had changed.
    """
    now = now or timezone.now()
    cases = list(
        SurgeryCase.objects.filter(
            status__in=LIVE, patient__status=Patient.Status.ACTIVE,
            surgery_date__gte=now.date() - timedelta(days=FOLLOWED_FOR_DAYS),
            surgery_date__lte=now.date() + timedelta(days=3),
        ).select_related("patient")
    )
    if not cases:
        return 0
    versions = {
        checklist.case_id: checklist.protocol_version
        for checklist in Checklist.objects.filter(case__in=cases).select_related("protocol_version")
    }
    lifts = lift_days(cases)
    wanted = {}
    for case in cases:
        for row in rows_for(case, version=versions.get(case.pk), lifts=lifts.get(case.pk, {}), now=now):
            wanted[(row.patient_id, row.rule, row.channel, row.anchor_date)] = row
    if not wanted:
        return 0
    existing = Reminder.objects.select_for_update().filter(
        task__isnull=True, rule__in=PATIENT_RULES, patient__in={key[0] for key in wanted},
        anchor_date__gte=now.date() - timedelta(days=1),
        status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED],
    )
    to_update = []
    for row in existing:
        new = wanted.pop((row.patient_id, row.rule, row.channel, row.anchor_date), None)
        if new is None:
            continue
        if row.status == Reminder.Status.CANCELLED and row.last_error.startswith(PLAN_CHANGED):
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


def live_case(patient: Patient) -> SurgeryCase | None:
    """The surgery these reminders are about: scheduled or done, the most recent first."""
    return (
        SurgeryCase.objects.filter(patient=patient, status__in=LIVE)
        .order_by("-surgery_date", "-id").select_related("checklist__protocol_version").first()
    )


def recheck(reminder: Reminder, now: datetime) -> tuple[str, str] | None:
    """Whether a safety reminder should still go out: None if yes, else (status, reason).

    The reasons that say the plan changed start with PLAN_CHANGED, so planning may bring the
    row back if the plan changes back (a surgery moved away, then back to this date).
    """
    patient = reminder.patient
    if not patient.is_followed:
        return Reminder.Status.CANCELLED, f"patient {patient.status}"
    case = live_case(patient)
    if case is None:
        return Reminder.Status.CANCELLED, f"{PLAN_CHANGED}: no scheduled surgery"
    day = reminder.anchor_date
    if reminder.rule == DAY_BEFORE_RULE:
        if case.status != SurgeryCase.Status.SCHEDULED or case.surgery_date != day:
            return Reminder.Status.CANCELLED, f"{PLAN_CHANGED}: the surgery is not on this day"
    elif reminder.rule == CHECK_IN_RULE:
        if not safety.check_in_due(case.surgery_date, day):
            return Reminder.Status.CANCELLED, f"{PLAN_CHANGED}: no check-in on this day"
        if CheckIn.objects.filter(case=case, day=(day - case.surgery_date).days).exists():
            return Reminder.Status.CANCELLED, "checked in already"
    elif reminder.rule == RULES_RULE:
        version = getattr(getattr(case, "checklist", None), "protocol_version", None)
        if version is None:
            return Reminder.Status.CANCELLED, f"{PLAN_CHANGED}: no checklist"
        lifted = {lift.astimezone(patient.zone).date()
                  for lift in RuleLift.objects.filter(case=case).values_list("lifted_at", flat=True)}
        changes = safety.rule_change_days(version, surgery_date=case.surgery_date, facts=patient.facts) | lifted
        if day not in changes:
            return Reminder.Status.CANCELLED, f"{PLAN_CHANGED}: nothing about the rules changes on this day"
        reminder.safety_case = case
        return None
    else:
        return Reminder.Status.CANCELLED, f"unknown rule {reminder.rule!r}"
    # Kept on the row for composing, so what is sent is what was checked.
    reminder.safety_case = case
    return None


def case_of(reminder: Reminder) -> SurgeryCase | None:
    """The case checked at delivery, or (outside delivery, e.g. a preview) looked up now."""
    case = getattr(reminder, "safety_case", None)
    return case if case is not None else live_case(reminder.patient)


