"""Shared reads of the care records: one function per question, used everywhere it is asked."""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Lower, Trim

from prepapp.authentication import read_in_this_request
from prepapp.models import CaregiverLink, Organization, Patient, SurgeryCase
from prepapp.permissions import staff_organization_ids


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


def name_key(full_name: str) -> str:
    """A name as compared for duplicates: trimmed, inner spaces collapsed, lower case."""
    return " ".join((full_name or "").split()).lower()


def patients_like(
    *, organization: Organization, full_name: str, contact_email: str = "", date_of_birth: date | None = None
) -> QuerySet:
    """The organization's patients who may be this person: the same name and the same email or date of birth.

    Names compare case-insensitively and trimmed; an empty email or a missing date of birth
    matches nothing. Archived and discharged patients count: they are the same person. Only
    this organization is searched, never another's.
    """
    same_contact = Q()
    email = (contact_email or "").strip()
    if email:
        same_contact |= Q(contact_email__iexact=email)
    if date_of_birth is not None:
        same_contact |= Q(date_of_birth=date_of_birth)
    if not same_contact:
        return Patient.objects.none()
    return (
        Patient.objects.filter(organization=organization)
        .annotate(name_key=Lower(Trim("full_name")))
        .filter(same_contact, name_key=name_key(full_name))
        .order_by("created_at", "id")
    )


# --- What a member of staff may see: every staff read starts from one of these ---------------


def patients_for_staff(actor) -> QuerySet:
    """The patients of the organizations `actor` works for (none for anyone else)."""
    return Patient.objects.filter(organization_id__in=staff_organization_ids(actor))


def cases_for_staff(actor) -> QuerySet:
    """The surgeries of those patients."""
    return SurgeryCase.objects.filter(patient__organization_id__in=staff_organization_ids(actor))


def caregiver_links_followed(user) -> QuerySet:
    """The patients `user` follows as a caregiver: live links only (not revoked, patient not archived)."""
    if not getattr(user, "is_authenticated", False):
        return CaregiverLink.objects.none()
    return (
        CaregiverLink.objects.filter(caregiver=user, revoked_at__isnull=True)
        .exclude(patient__status=Patient.Status.ARCHIVED)
        .select_related("patient", "caregiver")
    )


def caregiver_links_of(patient: Patient) -> QuerySet:
    """Who follows the patient, live links first, the revoked ones kept as the record."""
    return CaregiverLink.objects.filter(patient=patient).select_related("invited_by").order_by(
        F("revoked_at").asc(nulls_first=True), "invited_at", "id"
    )


def plan_revision_of(patient: Patient, *, request=None) -> int:
    """The patient's plan revision as the database has it now (one indexed read of one column).

    Read afresh rather than taken from just any patient object: one loaded earlier (a test
    client's forced user, a cache) may be stale, and a stale revision would answer "not
    modified" to a stale copy. The one exception is the record this very request's
    authentication read from the database after the request began (see
    prepapp.authentication.read_in_this_request), in a request that writes nothing (GET or
    HEAD): the database answered that read during this request, so it is as current as asking
    again, and it costs no query. Whatever is read after it (the body) is no older.
    """
    if (
        request is not None
        and connection.vendor == "postgresql"  # on SQLite the revision is not the patient's column
        and request.method in ("GET", "HEAD")
        and read_in_this_request(patient, request)
    ):
        return patient.plan_revision
    if connection.vendor == "sqlite":
        # The local demo keeps one revision for the whole database (checklists.plan_revision).
        with connection.cursor() as cursor:
            cursor.execute("SELECT value FROM prep_plan_revision WHERE id = 1")
            row = cursor.fetchone()
        return row[0] if row else 0
    return Patient.objects.filter(pk=patient.pk).values_list("plan_revision", flat=True).first() or 0
