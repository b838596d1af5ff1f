"""Shared reads of checklists: one function per question, used everywhere it is asked."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, DecimalField, Max, Min, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Extract

from prepapp.models import Patient, SurgeryCase
from prepapp.lib.prepared import PreparedQuery
from prepapp.selectors import cases_current_first

from checklists.models import Checklist, Task


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


def checklist_stamps_queryset(patient: Patient) -> QuerySet:
    """The current checklist with its case, protocol version and the stamps of its tasks (one row)."""
    current_case = cases_current_first(patient).values("id")[:1]
    return (
        Checklist.objects.filter(case_id=Subquery(current_case))
        .select_related("case__patient", "protocol_version__protocol")
        .annotate(
            tasks_count=Count("tasks"),
            tasks_done=Count("tasks", filter=Q(tasks__status=Task.Status.DONE)),
            tasks_id_sum=Sum("tasks__id"),
            tasks_changed_at=Max("tasks__updated_at"),
            tasks_changed_sum=_sum_of_change_times(),
            tasks_first_due=Min("tasks__due_date"),
            tasks_last_due=Max("tasks__due_date"),
        )
        .order_by("pk")[:1]
    )


def _sum_of_change_times():
    """The sum of the tasks' change times (PostgreSQL), which moves with every change to any task.

    The latest change alone misses one case: two changes to different steps at nearly the
    same time, the earlier committing last, leave the latest change time where it was. A
    sum cannot stay put. (SQLite, a single-process demo, has no such concurrency.)
    """
    if connection.vendor == "postgresql":
        # In microseconds, exactly (EXTRACT gives a numeric; an integer field would round it to seconds).
        return Sum(Extract("tasks__updated_at", "epoch", output_field=DecimalField(max_digits=24, decimal_places=6)))
    return Value(0)


# Asked on every read of the patient's checklist: compiled to SQL once per process.
_checklist_stamps = PreparedQuery(lambda patient_id: checklist_stamps_queryset(Patient(pk=patient_id)))


def checklist_current_with_stamps(patient: Patient) -> Checklist | None:
    """The current checklist, its case and protocol version, and stamps of its tasks, in one query.

    The stamps (how many tasks, how many done, the sum of their ids, the latest change, the
    first and last due date) change whenever a task is added, removed or changed: they make
    the validator of the checklist's answer without reading the tasks themselves.
    """
    return _checklist_stamps.first(patient.pk)
