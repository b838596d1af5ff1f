"""Shared reads of checklists: one function per question, used everywhere it is asked."""

from __future__ import annotations

from django.db.models import QuerySet

from prepapp.models import Patient, SurgeryCase
from prepapp.selectors import case_current

from .models import Checklist, Task


def tasks_open_for_patient(patient: Patient) -> QuerySet:
    """The patient's steps still to do on a surgery that is not cancelled, with definitions.

    A done surgery counts: its recovery steps are still to do, and still reminded.
    """
    return (
        Task.objects.filter(checklist__case__patient=patient, status=Task.Status.OPEN)
        .exclude(checklist__case__status=SurgeryCase.Status.CANCELLED)
        .select_related("definition")
    )


def checklist_current(patient: Patient) -> Checklist | None:
    """The checklist of the patient's current surgery (see prepapp.selectors), or None."""
    case = case_current(patient)
    if case is None:
        return None
    return (
        Checklist.objects.filter(case=case)
        .select_related("case__patient", "protocol_version__protocol")
        .first()
    )
