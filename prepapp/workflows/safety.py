"""The safety net's verbs: the care team lifts or reinstates a rule; the patient checks in at home.

Each verb runs in one transaction with its audit entry. A check-in whose answers match a
warning sign raises an alert and, once it commits, an immediate email to the care team (a
Celery task): the patient has already been told what to do, the care team follows up.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from checklists import safety, schedule
from checklists.models import Checklist, CheckIn, RuleLift
from prepapp.audit import audit_record
from prepapp.models import Patient, StaffMembership, SurgeryCase
from prepapp.reminders import tasks as reminder_tasks
from prepapp.reminders.check_ins import check_ins_missed
from prepapp.reminders.models import Alert
from prepapp.selectors import case_current

NOTE_MAX_LENGTH = 2000

__all__ = ["AnswersInvalid", "CheckInClosed", "check_in_submit", "check_ins_missed", "rule_lift", "rule_reinstate", "rule_of"]


class CheckInClosed(Exception):
    """No check-in is open: before surgery, after week 6, or with no surgery at all (the API's 409)."""


def _refuse_unless_care_team(by, patient: Patient) -> None:
    if not StaffMembership.objects.filter(
        user=by, organization_id=patient.organization_id,
        role__in=[StaffMembership.Role.COORDINATOR, StaffMembership.Role.CLINICAL_LEAD],
    ).exists():
        raise PermissionDenied("Only the patient's care team may lift or reinstate a rule.")


def rule_of(case: SurgeryCase, rule_key: str) -> dict:
    """The protocol's rule with this key on the case's checklist; ValidationError naming rule_key otherwise."""
    checklist = Checklist.objects.filter(case=case).select_related("protocol_version").first()
    if checklist is None:
        raise ValidationError({"rule_key": "This surgery has no protocol assigned, so it has no rules."})
    for rule in checklist.protocol_version.rules or []:
        if rule["key"] == rule_key:
            return rule
    raise ValidationError({"rule_key": f"{rule_key!r} is not a rule of this patient's protocol."})


@transaction.atomic
def rule_lift(*, case: SurgeryCase, rule_key: str, by, note: str = "", request=None,
              now: datetime | None = None) -> RuleLift:
    """The care team lifts a rule kept "until lifted" for this surgery (audited). Lifting twice changes nothing."""
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    _refuse_unless_care_team(by, case.patient)
    rule = rule_of(case, rule_key)
    if not rule.get("until_lifted"):
        raise ValidationError({"rule_key": "This rule ends on its own date; only a rule kept until lifted can be lifted."})
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH} characters."})
    lift, created = RuleLift.objects.get_or_create(
        case=case, rule_key=rule_key, defaults={"lifted_by": by, "lifted_at": now or timezone.now(), "note": note}
    )
    if created:
        audit_record(actor=by, patients=[case.patient_id], action="lift-rule", request=request)
    return lift


@transaction.atomic
def rule_reinstate(*, case: SurgeryCase, rule_key: str, by, request=None) -> bool:
    """Undo a lift: the rule is in force again (audited). Returns whether there was a lift to undo."""
    case = SurgeryCase.objects.select_for_update().select_related("patient").get(pk=case.pk)
    _refuse_unless_care_team(by, case.patient)
    rule_of(case, rule_key)
    removed, _ = RuleLift.objects.filter(case=case, rule_key=rule_key).delete()
    if removed:
        audit_record(actor=by, patients=[case.patient_id], action="reinstate-rule", request=request)
    return bool(removed)


def check_in_window(case: SurgeryCase | None, today) -> int:
    """The check-in's day after surgery, or CheckInClosed when no check-in is open today.

    Open once the recovery has started (the surgery marked done, or its day passed) and to the
    end of week 6. The surgery day itself counts when the surgery is marked done: a patient
    sent home that day can report a warning sign.
    """
    if case is None or schedule.case_phase(status=case.status, surgery_date=case.surgery_date,
                                           today=today) != schedule.RECOVERY:
        raise CheckInClosed("The check-in opens after your surgery.")
    day = (today - case.surgery_date).days
    if day > safety.CHECK_IN_WEEKLY_UNTIL_DAY:
        raise CheckInClosed("The check-ins ended after week 6 of your recovery. Call your care team if anything worries you.")
    return max(day, 0)


class AnswersInvalid(ValidationError):
    """Bad answers: a ValidationError naming `answers`; `detail` names the question too, for the API."""

    def __init__(self, question: str | None, message: str):
        super().__init__({"answers": [f"{question}: {message}" if question else message]})
        self.detail = {"answers": {question: [message]} if question else [message]}


def _answers_error(exc: ValueError) -> AnswersInvalid:
    # checklists.safety names the field as "answers.<question>: message".
    text = str(exc)
    field, _, message = text.partition(": ")
    if field.startswith("answers.") and message:
        return AnswersInvalid(field[len("answers."):], message)
    return AnswersInvalid(None, message or text)


@transaction.atomic
def check_in_submit(
    *, patient: Patient, answers, language: str = "", now: datetime | None = None
) -> tuple[CheckIn, dict]:
    """Store a check-in and return it with the reply the patient reads at once.

    The reply (checklists.safety.check_in_reply) is {"urgency", "message", "red_flags"}. A
    red flag of urgency "emergency" or "call_today" raises an alert and queues the care
    team's email when the transaction commits. Raises ValidationError naming the field for
    bad answers, and CheckInClosed outside the check-in weeks.
    """
    now = now or timezone.now()
    if not isinstance(answers, dict):
        raise AnswersInvalid(None, "Send the answers as an object: {question: answer}.")
    if not answers:
        raise AnswersInvalid(None, "Answer at least one question.")
    case = case_current(patient)
    day = check_in_window(case, patient.local_today(now))
    checklist = Checklist.objects.filter(case=case).select_related("protocol_version").first()
    if checklist is None or not (checklist.protocol_version.check_in or {}).get("questions"):
        raise CheckInClosed("Your care team has not set up check-ins for your recovery.")
    version = checklist.protocol_version
    try:
        reply = safety.check_in_reply(version, answers, language=language or patient.language)
    except ValueError as exc:
        raise _answers_error(exc) from exc
    urgency = reply["urgency"] if reply["urgency"] in ("emergency", "call_today") else CheckIn.Urgency.NONE
    check_in = CheckIn.objects.create(
        case=case, patient=patient, day=day, answered_at=now, answers=answers,
        red_flags=[key for key, _ in reply["red_flags"]], urgency=urgency,
    )
    if urgency != CheckIn.Urgency.NONE:
        alert = Alert.objects.create(
            organization_id=patient.organization_id, patient=patient, kind=Alert.Kind.CHECK_IN_RED_FLAG,
            case=case, check_in=check_in, check_in_day=day, due_date=patient.local_today(now), raised_at=now,
        )
        transaction.on_commit(lambda: reminder_tasks.email_check_in_alert.delay(alert.id))
    return check_in, {**reply, "version": version}
