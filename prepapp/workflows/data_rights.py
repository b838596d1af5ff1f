"""A patient's rights over their data: a copy of all of it, and erasure.

Both span every layer (the care record, checklists, reminders, the audit trail), so this
module sits with the workflows on top.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from checklists.models import CheckIn, RuleLift, Task
from prepapp import caregivers
from prepapp.audit import audit_record
from prepapp.models import AuditEntry, CalendarFeed, CaregiverLink, Patient
from prepapp.reminders import planning
from prepapp.reminders.models import (
    CaregiverPushSubscription, DeliveryAttempt, InboxMessage, PushSubscription, Reminder,
)
from prepapp.services import PATIENT_FIELDS, PREFERENCE_FIELDS, user_sign_out_everywhere

User = get_user_model()


def patient_export(*, patient: Patient) -> dict:
    """Everything the service holds about a patient, as plain JSON-ready data."""
    profile = {name: getattr(patient, name) for name in ("id", *PATIENT_FIELDS, *PREFERENCE_FIELDS)}
    profile.update(
        organization=patient.organization.name,
        created_at=patient.created_at,
        invitation_accepted_at=patient.invitation_accepted_at,
    )
    cases = []
    for case in patient.cases.order_by("surgery_date", "id"):
        checklist = getattr(case, "checklist", None)
        tasks = []
        if checklist is not None:
            for task in Task.objects.filter(checklist=checklist).select_related("definition").order_by("due_date", "id"):
                tasks.append({
                    "id": task.id, "key": task.definition.key, "title": task.definition.title,
                    "due_date": task.due_date, "window_start": task.window_start, "window_end": task.window_end,
                    "status": task.status, "completed_at": task.completed_at, "note": task.note, "answers": task.answers,
                })
        cases.append({
            "id": case.id, "procedure": case.procedure, "surgeon": case.surgeon, "approach": case.approach,
            "level": case.level, "surgery_date": case.surgery_date,
            "surgery_time": case.surgery_time, "arrival_time": case.arrival_time, "status": case.status,
            "created_at": case.created_at,
            "rule_lifts": list(
                RuleLift.objects.filter(case=case).order_by("lifted_at", "id").values("rule_key", "lifted_at", "note")
            ),
            "checklist": None if checklist is None else {
                "protocol": str(checklist.protocol_version), "assigned_at": checklist.assigned_at, "tasks": tasks,
            },
        })
    return {
        "exported_at": timezone.now(),
        "patient": profile,
        "surgeries": cases,
        "check_ins": list(
            CheckIn.objects.filter(patient=patient).order_by("answered_at", "id").values(
                "id", "case_id", "day", "answered_at", "answers", "red_flags", "urgency"
            )
        ),
        "reminders": list(
            Reminder.objects.filter(patient=patient).order_by("send_at", "id").values(
                "id", "task_id", "rule", "channel", "anchor_date", "send_at", "status", "sent_at", "read_at"
            )
        ),
        "delivery_log": list(
            DeliveryAttempt.objects.filter(patient=patient).order_by("at", "id").values(
                "reminder_id", "channel", "outcome", "at"
            )
        ),
        "inbox": list(
            InboxMessage.objects.filter(patient=patient).order_by("created_at", "id").values(
                "id", "title", "body", "task_id", "created_at", "read_at"
            )
        ),
        "push_subscriptions": list(
            PushSubscription.objects.filter(patient=patient).order_by("id").values(
                "id", "endpoint", "user_agent", "created_at", "last_success_at"
            )
        ),
        # The choice, never the secret (only its hash is held, and a hash is no use to anyone).
        "calendar_feeds": list(
            CalendarFeed.objects.filter(patient=patient).order_by("created_at", "id").values(
                "detail", "created_at", "last_fetched_at"
            )
        ),
        "caregivers": list(
            CaregiverLink.objects.filter(patient=patient).order_by("invited_at", "id").values(
                "id", "name", "relationship", "email", "language", "access", "gets_reminders", "sees_health_facts",
                "invited_at", "consent_note", "accepted_at", "revoked_at",
            )
        ),
        "record_access": [
            {"at": entry.at, "by": entry.actor.get_full_name() or entry.actor.get_username(), "action": entry.action}
            for entry in AuditEntry.objects.filter(patient=patient).select_related("actor").order_by("at", "id")
        ],
    }


@transaction.atomic
def patient_erase(*, patient: Patient, by, request=None) -> int:
    """Erase a patient: reminders not yet sent are cancelled, then the record and the login are deleted.

    Everything of theirs goes with the record (surgeries, checklists and answers, rule lifts,
    check-ins and their alerts, reminders and the delivery log, the inbox, push subscriptions,
    sign-in links, the links of the caregivers who followed them and what was sent to those
    caregivers), and every session and API token of theirs ends. A caregiver account that
    follows no one afterwards loses its personal data (caregivers.caregiver_account_release:
    deleted, or emptied when the audit trail names it); one that still follows (or once
    followed) another patient keeps its account. The audit trail stays,
    pointing at the patient's pseudonymous reference instead of the record; a login the
    trail names as an actor (the patient's own health-check answers) stays emptied under the
    same pseudonym (prepapp.models.delete_patient_login). The erasure's own entry carries the
    request's address. Returns the erased patient's id (the reference's number).

    The patient's steps are locked before the patient: a tick locks its step and then moves
    the patient's plan revision, so taking them in the same order waits for the tick instead
    of deadlocking with it. A patient erased meanwhile raises Patient.DoesNotExist.
    """
    list(Task.objects.select_for_update(of=("self",)).filter(checklist__case__patient_id=patient.pk).values_list("pk"))
    patient = Patient.objects.select_for_update(of=("self",)).select_related("user").get(pk=patient.pk)
    patient_id = patient.pk
    planning.cancel_pending(patient=patient, reason="patient erased")
    audit_record(actor=by, patients=[patient], action="erase", request=request)
    if patient.user is not None:
        user_sign_out_everywhere(user=patient.user)
    followers = list(User.objects.filter(caregiver_links__patient=patient).distinct().order_by("pk"))
    patient.delete()
    for account in followers:
        if caregivers.caregiver_account_release(account=account) == "emptied":
            CaregiverPushSubscription.objects.filter(user=account).delete()  # their phone's address too
    return patient_id
