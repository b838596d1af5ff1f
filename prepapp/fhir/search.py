"""FHIR reads and searches over the records one organization may see: by id, by patient, by `_lastUpdated`.

Each resource type names its rows (already limited to the caller's organizations), the field
that reaches the patient, the field `_lastUpdated` reads, and how a row becomes a resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Callable

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from checklists.models import Checklist, Task
from prepapp.fhir import patient_plan
from prepapp.models import Patient, SurgeryCase

MAX_COUNT = 500
DEFAULT_COUNT = 100
PREFIXES = {"eq", "gt", "ge", "lt", "le"}
SEARCH_PARAMETERS = {"patient", "_lastUpdated", "_count", "_offset"}


class SearchRefused(Exception):
    """A search parameter that cannot be read: `parameter` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class ResourceType:
    rows: Callable[[list[int]], QuerySet]  # organization ids -> rows they may see
    patient_field: str
    updated_field: str
    build: Callable  # row -> resource
    patient_of: Callable  # row -> patient id


def _careplan(checklist: Checklist):
    tasks = list(patient_plan.task_rows().filter(checklist=checklist))
    return patient_plan.careplan_resource(checklist, tasks)


def _patient(patient: Patient):
    return patient_plan.patient_resource(patient, [i for i in patient.ehr_identifiers.all()])


TYPES = {
    "Patient": ResourceType(
        rows=lambda orgs: Patient.objects.filter(organization_id__in=orgs).prefetch_related("ehr_identifiers")
        .order_by("id"),
        patient_field="id", updated_field="updated_at", build=_patient, patient_of=lambda p: p.pk,
    ),
    "Appointment": ResourceType(
        rows=lambda orgs: SurgeryCase.objects.filter(patient__organization_id__in=orgs)
        .select_related("patient", "ehr_appointment").order_by("id"),
        patient_field="patient_id", updated_field="updated_at", build=patient_plan.appointment_resource,
        patient_of=lambda c: c.patient_id,
    ),
    "CarePlan": ResourceType(
        rows=lambda orgs: Checklist.objects.filter(case__patient__organization_id__in=orgs)
        .select_related("case__patient", "protocol_version__protocol").order_by("id"),
        patient_field="case__patient_id", updated_field="assigned_at", build=_careplan,
        patient_of=lambda c: c.case.patient_id,
    ),
    "Task": ResourceType(
        rows=lambda orgs: patient_plan.task_rows().filter(checklist__case__patient__organization_id__in=orgs)
        .order_by("id"),
        patient_field="checklist__case__patient_id", updated_field="updated_at", build=patient_plan.task_resource,
        patient_of=lambda t: t.checklist.case.patient_id,
    ),
    "CommunicationRequest": ResourceType(
        rows=lambda orgs: patient_plan.reminder_rows().filter(
            patient__organization_id__in=orgs, status__in=patient_plan.REQUESTED).order_by("id"),
        patient_field="patient_id", updated_field="updated_at",
        build=patient_plan.communication_request_resource, patient_of=lambda r: r.patient_id,
    ),
    "Communication": ResourceType(
        rows=lambda orgs: patient_plan.reminder_rows().filter(
            patient__organization_id__in=orgs, status__in=patient_plan.COMMUNICATED).order_by("id"),
        patient_field="patient_id", updated_field="updated_at",
        build=patient_plan.communication_resource, patient_of=lambda r: r.patient_id,
    ),
}


def _instant(value: str, prefix: str) -> datetime:
    moment = parse_datetime(value) if "T" in value else None
    if moment is None:
        day = parse_date(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
        if day is None:
            raise ValueError(value)
        # A bare day: "gt"/"le" mean after/up to its end, "ge"/"lt"/"eq" start from its beginning.
        moment = datetime.combine(day, time.max if prefix in ("gt", "le") else time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _last_updated(rows: QuerySet, field: str, values: list[str]) -> QuerySet:
    for raw in values:
        prefix, value = (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)
        try:
            moment = _instant(value, prefix)
        except ValueError:
            raise SearchRefused("_lastUpdated", f"{raw!r} is not a date or instant (e.g. gt2026-01-31T08:00:00Z)") from None
        if prefix == "eq" and "T" not in value:
            rows = rows.filter(**{f"{field}__date": moment.date()})
        else:
            lookup = {"eq": "", "gt": "__gt", "ge": "__gte", "lt": "__lt", "le": "__lte"}[prefix]
            rows = rows.filter(**{f"{field}{lookup}": moment})
    return rows


def _whole_number(params, name: str, default: int, upper: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > upper:
        raise SearchRefused(name, f"must be a whole number from 0 to {upper}")
    return int(raw)


def patient_id(value: str) -> int:
    """"123" or "Patient/123" -> 123."""
    match = re.fullmatch(r"(?:Patient/)?(\d{1,18})", value or "")
    if not match:
        raise SearchRefused("patient", f"{value!r} is not a patient reference (Patient/123)")
    return int(match[1])


def search(kind: ResourceType, organization_ids, params) -> tuple[list, int, int, int]:
    """(rows of the page, total, count, offset) for a search's parameters (a QueryDict)."""
    unknown = sorted(set(params) - SEARCH_PARAMETERS)
    if unknown:
        raise SearchRefused(unknown[0], "this search parameter is not supported here")
    rows = kind.rows(organization_ids)
    if "patient" in params:
        rows = rows.filter(**{kind.patient_field: patient_id(params["patient"])})
    rows = _last_updated(rows, kind.updated_field, params.getlist("_lastUpdated"))
    count = _whole_number(params, "_count", DEFAULT_COUNT, MAX_COUNT)
    offset = _whole_number(params, "_offset", 0, 10**9)
    return list(rows[offset:offset + count]), rows.count(), count, offset
