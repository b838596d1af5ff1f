"""In: a hospital's Bundle of Patient and Appointment resources, read and checked before anything is written.

Every entry is validated with fhir.resources and then for what the import needs (an
identifier, a name, a start, the patient it is for…); the first problem refuses the whole
bundle, naming the entry and the field. Resources of other types (Practitioner, Location…)
and elements the import does not use (extensions, minutesDuration, participants other than
the patient and the surgeon) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pydantic
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient as FhirPatient

from prepapp.models import Patient

BOOKED = {"booked", "arrived", "checked-in"}
CANCELLED = {"cancelled", "noshow", "entered-in-error"}
FULFILLED = {"fulfilled"}
NOT_YET = {"proposed", "pending", "waitlist"}  # not a surgery to prepare for yet: left alone
MRN = "MR"


class BundleRefused(Exception):
    """The bundle is refused whole: `entry` (its index, or None for the bundle) and `field` say where."""

    def __init__(self, entry: int | None, field: str, message: str, status: int = 400):
        where = f"Bundle.entry[{entry}].resource.{field}" if entry is not None else f"Bundle.{field}"
        super().__init__(f"{where}: {message}")
        self.entry, self.field, self.message, self.status, self.where = entry, field, message, status, where


@dataclass
class PatientIn:
    index: int
    keys: set[str]  # how the bundle's appointments may point at it: its fullUrl, Patient/<its id>
    identifiers: list[tuple[str, str]]
    full_name: str
    date_of_birth: date | None
    email: str
    language: str


@dataclass
class AppointmentIn:
    index: int
    identifier: tuple[str, str]
    status: str
    start: datetime | None
    patient_ref: str
    procedure: str
    procedure_codes: list[tuple[str, str]] = field(default_factory=list)
    surgeon: str = ""


def read_bundle(data) -> tuple[Bundle, list[PatientIn], list[AppointmentIn]]:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise BundleRefused(None, "resourceType", "the body must be a FHIR Bundle")
    try:
        bundle = Bundle.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _refusal(exc) from None
    if bundle.type not in ("transaction", "batch"):
        raise BundleRefused(None, "type", f"must be transaction or batch, not {bundle.type!r}")
    patients, appointments = [], []
    for index, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if isinstance(resource, FhirPatient):
            patients.append(_patient(index, entry.fullUrl, resource))
        elif isinstance(resource, Appointment):
            appointments.append(_appointment(index, resource))
    known = {key for p in patients for key in p.keys}
    for a in appointments:
        if a.patient_ref.startswith("urn:") and a.patient_ref not in known:
            raise BundleRefused(a.index, "participant", f"{a.patient_ref} names no Patient entry of this bundle")
    return bundle, patients, appointments


def _refusal(exc: pydantic.ValidationError) -> BundleRefused:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    if len(loc) >= 3 and loc[0] == "entry" and loc[2] == "resource":
        return BundleRefused(int(loc[1]), ".".join(loc[3:]) or "resource", error["msg"])
    return BundleRefused(None, ".".join(loc) or "Bundle", error["msg"])


def _identifiers(index: int, identifiers) -> list[tuple[str, str]]:
    found = [(i.system, i.value) for i in identifiers or [] if i.system and i.value]
    if not found:
        raise BundleRefused(index, "identifier", "at least one identifier with a system and a value is needed")
    # The medical record number first: it is the one that names the patient at the hospital.
    mrn = [(i.system, i.value) for i in identifiers or [] if i.system and i.value and i.type
           and any(c.code == MRN for c in i.type.coding or [])]
    return mrn + [pair for pair in found if pair not in mrn]


def _name(index: int, resource: FhirPatient) -> str:
    names = sorted(resource.name or [], key=lambda n: n.use != "official")
    for name in names:
        text = name.text or " ".join([*(name.given or []), name.family or ""])
        text = " ".join(text.split())
        if text:
            return text[:200]
    raise BundleRefused(index, "name", "the patient needs a name")


def _patient(index: int, full_url: str | None, resource: FhirPatient) -> PatientIn:
    email = next((t.value for t in resource.telecom or [] if t.system == "email" and t.value), "")
    languages = [c.code[:2] for comm in resource.communication or [] for c in comm.language.coding or [] if c.code]
    language = next((code for code in languages if code in Patient.Language.values), Patient.Language.ENGLISH)
    keys = {key for key in (full_url, f"Patient/{resource.id}" if resource.id else None) if key}
    return PatientIn(
        index=index, keys=keys, identifiers=_identifiers(index, resource.identifier), full_name=_name(index, resource),
        date_of_birth=resource.birthDate, email=email, language=language,
    )


def _appointment(index: int, resource: Appointment) -> AppointmentIn:
    identifier = _identifiers(index, resource.identifier)[0]
    status = resource.status
    if status not in BOOKED | CANCELLED | FULFILLED | NOT_YET:
        raise BundleRefused(index, "status", f"{status!r} is not an Appointment status")
    if status in BOOKED and resource.start is None:
        raise BundleRefused(index, "start", "a booked surgery needs its start")
    patient_ref, surgeon = None, ""
    for participant in resource.participant or []:
        actor = participant.actor
        ref = (actor.reference or "") if actor else ""
        # Patient/<id>, a bundle's urn:uuid, or a server's absolute …/Patient/<id> (as a polled server writes them).
        if ref.startswith("Patient/") or "/Patient/" in ref or (ref.startswith("urn:") and patient_ref is None):
            patient_ref = ref
        elif (ref.startswith("Practitioner/") or "/Practitioner/" in ref) and not surgeon:
            surgeon = (actor.display or "")[:200]
    if patient_ref is None:
        raise BundleRefused(index, "participant", "no participant is the patient (actor: Patient/… or a bundle fullUrl)")
    concepts = [*(resource.serviceType or []), *(resource.reasonCode or [])]
    procedure_codes = [(c.system, c.code) for concept in concepts for c in concept.coding or [] if c.system and c.code]
    texts = [concept.text or next((c.display for c in concept.coding or [] if c.display), None) for concept in concepts]
    procedure = next((t for t in texts if t), resource.description or "")
    if status in BOOKED and not procedure_codes:
        raise BundleRefused(index, "serviceType", "a booked surgery needs its procedure code (SNOMED CT or CPT)")
    return AppointmentIn(
        index=index, identifier=identifier, status=status, start=resource.start, patient_ref=patient_ref,
        procedure=(procedure or "Surgery")[:200], procedure_codes=procedure_codes, surgeon=surgeon,
    )


def ref_to_own_patient(ref: str) -> int | None:
    """Patient/<id> naming one of this service's patients (not a bundle entry), or None."""
    tail = ref.removeprefix("Patient/")
    return int(tail) if ref.startswith("Patient/") and tail.isdigit() else None

