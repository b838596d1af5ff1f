"""Giving surgeries their checklist from a protocol version, with the steps' reminders planned."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from checklists import services as checklist_services
from checklists.models import Checklist, ProtocolVersion, Task
from prepapp.audit import audit_record
from prepapp.lib.bulk import refresh_statistics
from prepapp.models import SurgeryCase
from prepapp.reminders import bulk_planning, planning
from prepapp.reminders.models import Reminder
from prepapp.workflows.cases import BULK_CHUNK
from prepapp.workflows.patients import refuse_unless_followed


@transaction.atomic
def checklist_assign(
    *, case: SurgeryCase, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None,
    request=None,
) -> Checklist:
    """Give a scheduled surgery its checklist from a protocol version, and plan the steps' reminders.

    With `request`, the assignment is noted in the audit trail as `assigned_by`'s.

    See checklists.services.checklist_build for what is copied and when a checklist may be
    replaced; a replaced checklist's reminders go with its steps.
    """
    now = now or timezone.now()
    refuse_unless_followed(case.patient)
    checklist = checklist_services.checklist_build(
        case=case, protocol_version=protocol_version, assigned_by=assigned_by, now=now
    )
    planning.plan_for_tasks(
        tasks=checklist.tasks.select_related("definition"), patient=checklist.case.patient, now=now
    )
    if request is not None and assigned_by is not None:
        audit_record(actor=assigned_by, patients=[case.patient_id], action="assign", request=request)
    return checklist


@transaction.atomic
def checklists_assign_bulk(
    *, cases, protocol_version: ProtocolVersion, assigned_by=None, now: datetime | None = None
) -> int:
    """checklist_assign for many cases (objects or ids); returns how many checklists were built."""
    now = now or timezone.now()
    ids = sorted({getattr(case, "pk", case) for case in cases})
    rows_added = 0
    for start in range(0, len(ids), BULK_CHUNK):
        checklists = checklist_services.checklists_build_bulk(
            cases=ids[start:start + BULK_CHUNK], protocol_version=protocol_version, assigned_by=assigned_by, now=now
        )
        tasks = [task for checklist in checklists for task in checklist.built_tasks]
        rows_added += len(checklists) + len(tasks) + bulk_planning.plan_bulk(tasks=tasks, now=now)
    # A whole clinic's checklists at once: what comes next (a bulk move, the sweeper) is planned
    # for the tables' new size, not their old one.
    refresh_statistics([Checklist, Task, Reminder], rows_added=rows_added)
    return len(ids)
