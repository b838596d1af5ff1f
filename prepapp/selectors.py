"""Shared reads of the care records: one function per question, used everywhere it is asked."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from .models import Patient, SurgeryCase


def current_case_ordering(prefix: str = "") -> list:
    """order_by() terms that put a patient's current surgery first.

    The current surgery is the scheduled one; without one, the latest done, then the latest
    cancelled. The rank is explicit rather than an accident of how the status names sort.
    `prefix` reaches the case through a relation, e.g. "case__" from a checklist.
    """
    rank = Case(
        When(**{f"{prefix}status": SurgeryCase.Status.SCHEDULED}, then=Value(0)),
        When(**{f"{prefix}status": SurgeryCase.Status.DONE}, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return [rank.asc(), f"-{prefix}surgery_date", f"-{prefix}id"]


def cases_current_first(patient: Patient) -> QuerySet:
    """The patient's surgeries, the current one first."""
    return SurgeryCase.objects.filter(patient=patient).order_by(*current_case_ordering())


def case_current(patient: Patient) -> SurgeryCase | None:
    """The patient's current surgery (see current_case_ordering), or None if none was ever booked."""
    return cases_current_first(patient).select_related("patient").first()
