"""Shared reads of checklists: one function per question, used everywhere it is asked."""

from __future__ import annotations

from django.db.models import Q, QuerySet, Subquery

from checklists.models import Checklist, Protocol, Task
from prepapp.models import Patient, SurgeryCase
from prepapp.permissions import staff_organization_ids
from prepapp.selectors import cases_current_first


def tasks_open_to_remind() -> QuerySet:
    """Open steps that can still be reminded: on a scheduled surgery, or a recovery step of a done one.

    A surgery marked done ends its preparation (what was not ticked off is kept for the
    record) while its recovery goes on; a cancelled surgery has nothing left to remind.
    """
    return (
        Task.objects.filter(status=Task.Status.OPEN)
        .exclude(checklist__case__status=SurgeryCase.Status.CANCELLED)
        .exclude(checklist__case__status=SurgeryCase.Status.DONE, definition__offset_days__lte=0)
    )


def tasks_open_for_patient(patient: Patient) -> QuerySet:
    """The patient's steps still to do and still reminded (see tasks_open_to_remind), with definitions."""
    return tasks_open_to_remind().filter(checklist__case__patient=patient).select_related("definition")


def checklist_current(patient: Patient) -> Checklist | None:
    """The checklist of the patient's current surgery (see prepapp.selectors), or None. One query."""
    current_case = cases_current_first(patient).values("id")[:1]
    return (
        Checklist.objects.filter(case_id=Subquery(current_case))
        .select_related("case__patient", "protocol_version__protocol")
        .first()
    )


def protocols_for_staff(actor) -> QuerySet:
    """The protocols `actor` may assign and read: the shipped ones and their organizations' own."""
    return Protocol.objects.filter(Q(organization__isnull=True) | Q(organization_id__in=staff_organization_ids(actor)))
