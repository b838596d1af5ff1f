"""Shared reads of checklists: one function per question, used everywhere it is asked."""

from __future__ import annotations

from django.db.models import Q, QuerySet, Subquery

from checklists.models import Checklist, Protocol, ProtocolVersion, Task
from prepapp.models import Patient, SurgeryCase
from prepapp.permissions import patient_of, staff_organization_ids
from prepapp.selectors import caregiver_links_followed, cases_current_first


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


def protocol_version_read_by(user, version_id: int) -> ProtocolVersion | None:
    """The protocol version, if `user` reads a current checklist on it: their own, or a followed patient's.

    The texts of a version are the same for every patient on it, but only those who have a
    checklist on it (or follow someone who has) are given them. One query per patient looked at.
    """
    patients = [patient] if (patient := patient_of(user)) is not None else []
    patients += [link.patient for link in caregiver_links_followed(user)]
    for someone in patients:
        checklist = checklist_current(someone)
        if checklist is not None and checklist.protocol_version_id == version_id:
            return checklist.protocol_version
    return None
