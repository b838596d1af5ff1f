"""In: a hospital's surgical schedule, applied through the workflows in one transaction.

- A patient is matched by identifier (system + value, the MRN first), never by name alone. An
  unknown one is enrolled and invited by email when the bundle carries an address; one with
  no known identifier but the name and the birth date (or email) of an enrolled patient is
  held for a coordinator (HeldMatch), and nothing of theirs is written until then.
- An appointment is matched by its identifier: a new one books the surgery and assigns the
  checklist of the protocol its procedure code is mapped to (ProcedureMapping); a changed
  start moves it, `cancelled` cancels it, `fulfilled` marks it done, each with the same
  workflow a coordinator's change goes through, so the patient is told the same way.
- Anything already as the bundle says is left alone: the same bundle twice changes nothing.
  A refusal anywhere (a workflow's, an unmapped code, another organization's patient) undoes
  the whole bundle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prepapp import services
from prepapp.audit import audit_record
from prepapp.fhir.bundle_reading import (
    BOOKED,
    CANCELLED,
    FULFILLED,
    AppointmentIn,
    BundleRefused,
    PatientIn,
    ref_to_own_patient,
)
from prepapp.fhir.models import AppointmentLink, HeldMatch, PatientIdentifier, ProcedureMapping
from prepapp.models import Organization, Patient, SurgeryCase
from prepapp.selectors import patients_like
from prepapp.workflows import case_book, case_cancel, case_complete, case_reschedule, checklist_assign

logger = logging.getLogger(__name__)


@dataclass
class EntryResult:
    """What became of one entry: its HTTP-like status, where the record is, and a note when it was not applied."""

    index: int
    status: str  # "201 Created" or "200 OK"
    location: str = ""
    note: str = ""
    changed: bool = False
    held: bool = False  # a patient held for a coordinator, or an appointment of one


def _refuse(entry: int, exc: ValidationError) -> BundleRefused:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return BundleRefused(entry, field, " ".join(m for e in errors for m in e.messages), status=422)
    return BundleRefused(entry, "resource", " ".join(exc.messages), status=422)


@transaction.atomic
def schedule_import(
    *, organization: Organization, actor, patients: list[PatientIn], appointments: list[AppointmentIn],
    request=None, via: str = "/fhir/R4/",
) -> list[EntryResult]:
    """Apply a read bundle (prepapp.fhir.bundle_reading) for one organization; all or nothing.

    `actor` is the login of whoever sent it (an integration client's, or a polled source's):
    the audit trail names it. `via` is where it came in, noted with the invitations sent.
    """
    results: list[EntryResult] = []
    resolved: dict[str, Patient | None] = {}  # a bundle patient's keys -> the patient (None: held)
    for entry in patients:
        patient, result = _match_patient(entry, organization=organization, actor=actor, request=request, via=via)
        results.append(result)
        for key in entry.keys:
            resolved[key] = patient
    for entry in appointments:
        try:
            results.append(_apply_appointment(entry, organization=organization, actor=actor, resolved=resolved,
                                              request=request))
        except ValidationError as exc:
            raise _refuse(entry.index, exc) from exc
    return sorted(results, key=lambda r: r.index)


def _match_patient(entry: PatientIn, *, organization: Organization, actor, request,
                   via: str) -> tuple[Patient | None, EntryResult]:
    known = (
        PatientIdentifier.objects.filter(_pairs_filter(entry.identifiers), organization=organization)
        .select_related("patient").order_by("id").first()
    )
    if known is not None:
        patient = known.patient
        _keep_identifiers(patient, entry.identifiers)
        return patient, EntryResult(entry.index, "200 OK", f"Patient/{patient.pk}")
    system, value = entry.identifiers[0]
    held = HeldMatch.objects.filter(organization=organization, system=system, value=value,
                                    resolved_at__isnull=True).first()
    candidates = list(patients_like(organization=organization, full_name=entry.full_name,
                                    contact_email=entry.email, date_of_birth=entry.date_of_birth)[:1])
    if held is not None or candidates:
        if held is None:
            HeldMatch.objects.create(
                organization=organization, candidate=candidates[0], system=system, value=value,
                full_name=entry.full_name, date_of_birth=entry.date_of_birth, received_at=timezone.now(),
            )
        note = ("Held for a coordinator: an enrolled patient has this name and birth date (or email) "
                "but not this identifier. Nothing was enrolled or booked for this entry.")
        return None, EntryResult(entry.index, "200 OK", note=note, held=True)
    try:
        patient = services.patient_enrol(
            organization=organization, full_name=entry.full_name, confirm_duplicate=True,
            contact_email=entry.email, date_of_birth=entry.date_of_birth, time_zone=organization.time_zone,
            language=entry.language,
        )
    except ValidationError as exc:
        raise _refuse(entry.index, exc) from exc
    _keep_identifiers(patient, entry.identifiers)
    audit_record(actor=actor, patients=[patient], action="enrol", request=request)
    if patient.contact_email:
        transaction.on_commit(lambda: _invite(patient, actor, via))
    return patient, EntryResult(entry.index, "201 Created", f"Patient/{patient.pk}", changed=True)


def _pairs_filter(pairs: list[tuple[str, str]]) -> Q:
    """Any of the entry's identifiers, each as its exact (system, value) pair."""
    matches = Q(pk__in=[])
    for system, value in pairs:
        matches |= Q(system=system, value=value)
    return matches


def _keep_identifiers(patient: Patient, pairs: list[tuple[str, str]]) -> None:
    have = set(PatientIdentifier.objects.filter(patient=patient).values_list("system", "value"))
    PatientIdentifier.objects.bulk_create(
        PatientIdentifier(organization_id=patient.organization_id, patient=patient, system=s, value=v)
        for s, v in pairs if (s, v) not in have
    )


def _invite(patient: Patient, actor, via: str) -> None:
    """After the bundle commits: the invitation email, as a coordinator's "email the code" sends it."""
    try:
        services.patient_invitation_email(patient=patient, issued_by=actor, path=via)
    except (services.InvitationEmailNotSent, services.TooManyInvitationEmails, ValidationError) as exc:
        # The enrolment stands; a coordinator can send the invitation again from the patient's page.
        logger.warning("The invitation of imported patient %s was not emailed (%s).", patient.pk,
                       exc.__class__.__name__)


def _patient_for(entry: AppointmentIn, *, organization, resolved: dict) -> Patient | None:
    if entry.patient_ref in resolved:
        return resolved[entry.patient_ref]
    own = ref_to_own_patient(entry.patient_ref)
    patient = Patient.objects.filter(pk=own, organization=organization).first() if own else None
    if patient is None:
        raise BundleRefused(entry.index, "participant",
                            f"{entry.patient_ref} is neither an entry of this bundle nor a patient of this organization",
                            status=422)
    return patient


def _local(entry: AppointmentIn, patient: Patient):
    start = entry.start.astimezone(patient.zone)
    return start.date(), start.time().replace(second=0, microsecond=0)


def _apply_appointment(entry: AppointmentIn, *, organization, actor, resolved: dict, request) -> EntryResult:
    patient = _patient_for(entry, organization=organization, resolved=resolved)
    if patient is None:
        return EntryResult(entry.index, "200 OK", note="Its patient is held for a coordinator: not booked.",
                           held=True)
    system, value = entry.identifier
    link = AppointmentLink.objects.filter(organization=organization, system=system, value=value) \
        .select_related("case__patient").first()
    if link is not None and link.case.patient_id != patient.pk:
        raise BundleRefused(entry.index, "identifier", "this appointment is booked here for another patient", status=422)
    case = link.case if link is not None else None
    changed = False
    if entry.status in BOOKED:
        surgery_date, surgery_time = _local(entry, patient)
        if case is None or case.status == SurgeryCase.Status.CANCELLED:
            case = _book(entry, patient=patient, organization=organization, actor=actor, request=request,
                         surgery_date=surgery_date, surgery_time=surgery_time)
            link = _link(link, organization=organization, case=case, entry=entry)
            return EntryResult(entry.index, "201 Created", f"Appointment/{case.pk}", changed=True)
        if case.status == SurgeryCase.Status.SCHEDULED and (case.surgery_date, case.surgery_time) != (
            surgery_date, surgery_time
        ):
            case_reschedule(case=case, surgery_date=surgery_date, surgery_time=surgery_time, by=actor, request=request)
            changed = True
    elif entry.status in CANCELLED and case is not None and case.status == SurgeryCase.Status.SCHEDULED:
        case_cancel(case=case, by=actor, request=request)
        changed = True
    elif entry.status in FULFILLED and case is not None and case.status == SurgeryCase.Status.SCHEDULED:
        case_complete(case=case, by=actor, request=request)
        changed = True
    if case is None:
        return EntryResult(entry.index, "200 OK", note=f"Not booked here; an appointment {entry.status} changes nothing.")
    if link.ehr_status != entry.status:
        AppointmentLink.objects.filter(pk=link.pk).update(ehr_status=entry.status)
    return EntryResult(entry.index, "200 OK", f"Appointment/{case.pk}", changed=changed)


def _book(entry: AppointmentIn, *, patient, organization, actor, request, surgery_date, surgery_time) -> SurgeryCase:
    mapping = None
    for system, code in entry.procedure_codes:
        mapping = ProcedureMapping.objects.filter(organization=organization, system=system, code=code) \
            .select_related("protocol").first()
        if mapping:
            break
    if mapping is None:
        listed = ", ".join(f"{s}|{c}" for s, c in entry.procedure_codes)
        raise BundleRefused(entry.index, "serviceType",
                            f"no protocol is mapped to {listed} for this organization (admin: procedure mappings)",
                            status=422)
    version = mapping.protocol.latest_version()
    if version is None:
        raise BundleRefused(entry.index, "serviceType", f"{mapping.protocol} has no published version", status=422)
    case = case_book(patient=patient, procedure=entry.procedure, surgeon=entry.surgeon, surgery_date=surgery_date,
                     surgery_time=surgery_time, by=actor, request=request)
    checklist_assign(case=case, protocol_version=version, assigned_by=actor, request=request)
    return case


def _link(link, *, organization, case: SurgeryCase, entry: AppointmentIn) -> AppointmentLink:
    system, value = entry.identifier
    if link is None:
        return AppointmentLink.objects.create(organization=organization, case=case, system=system, value=value,
                                              ehr_status=entry.status)
    link.case, link.ehr_status = case, entry.status
    link.save(update_fields=["case", "ehr_status"])
    return link

