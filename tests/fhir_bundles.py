"""Bundles as an EHR's interface engine sends them, built with fhir.resources.

Shaped after the FHIR specification's Patient and Appointment examples: several identifiers
(the MRN typed MR, a national one), names with given and family, participants that are
practitioners and locations besides the patient, minutesDuration, and extensions of the
hospital's own that the import must ignore.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from fhir.resources.R4B.appointment import Appointment, AppointmentParticipant
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference

MRN_SYSTEM = "urn:oid:1.2.36.146.595.217.0.1"
NATIONAL_SYSTEM = "http://ns.electronichealth.net.au/id/hi/ihi/1.0"
APPOINTMENT_SYSTEM = "http://example.org/sampleappointment-identifier"
SNOMED = "http://snomed.info/sct"
FUSION_CODE = "609588000"  # SNOMED CT: a lumbar spinal fusion procedure, as mapped in the tests
HOSPITAL_EXTENSION = "http://example.org/fhir/StructureDefinition/theatre-slot"


def patient(n: int, *, email: str = "", birth_date: date | None = date(1961, 5, 4), family: str = "Chalmers"):
    return Patient(
        id=f"pat{n}",
        extension=[Extension(url=HOSPITAL_EXTENSION, valueString="ward 7")],
        identifier=[
            Identifier(use="usual", system=MRN_SYSTEM, value=f"MRN{n:05d}",
                       type=CodeableConcept(coding=[Coding(system="http://terminology.hl7.org/CodeSystem/v2-0203",
                                                           code="MR")])),
            Identifier(use="official", system=NATIONAL_SYSTEM, value=f"800360{n:08d}"),
        ],
        active=True,
        name=[HumanName(use="official", family=family, given=["Peter", f"James{n}"]), HumanName(use="nickname",
                                                                                           given=["Jim"])],
        telecom=[ContactPoint(system="phone", value="(03) 5555 6473", use="work")]
        + ([ContactPoint(system="email", value=email)] if email else []),
        gender="male",
        birthDate=birth_date,
    )


def appointment(n: int, *, on: date, at: time = time(8, 30), status: str = "booked", patient_ref: str | None = None,
                zone: str = "UTC", code: str = FUSION_CODE):
    return Appointment(
        id=f"appt{n}",
        extension=[Extension(url=HOSPITAL_EXTENSION, valueString="theatre 3, slot 1")],
        identifier=[Identifier(system=APPOINTMENT_SYSTEM, value=f"OR-{n:05d}")],
        status=status,
        serviceCategory=[CodeableConcept(coding=[Coding(system="http://example.org/service-category", code="gp",
                                                        display="General Practice")])],
        serviceType=[CodeableConcept(coding=[Coding(system=SNOMED, code=code,
                                                    display="Minimally invasive lumbar fusion")])],
        specialty=[CodeableConcept(coding=[Coding(system=SNOMED, code="394801008", display="Trauma and orthopedics")])],
        description="Lumbar fusion L4-L5",
        start=datetime.combine(on, at, tzinfo=ZoneInfo(zone)),
        end=datetime.combine(on, time(at.hour + 3, at.minute), tzinfo=ZoneInfo(zone)),
        minutesDuration=180,
        participant=[
            AppointmentParticipant(actor=Reference(reference=patient_ref or f"urn:uuid:patient-{n}"),
                                   required="required", status="accepted"),
            AppointmentParticipant(type=[CodeableConcept(coding=[Coding(
                system="http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code="ATND")])],
                actor=Reference(reference="Practitioner/example", display="Dr Adam Careful"),
                required="required", status="accepted"),
            AppointmentParticipant(actor=Reference(reference="Location/1", display="South Wing, second floor"),
                                   required="required", status="accepted"),
        ],
    )


def entry(resource, full_url: str | None = None) -> BundleEntry:
    return BundleEntry(
        fullUrl=full_url or f"urn:uuid:{uuid.uuid4()}", resource=resource,
        request=BundleEntryRequest(method="PUT", url=f"{resource.get_resource_type()}?identifier="
                                   f"{resource.identifier[0].system}|{resource.identifier[0].value}"),
    )


def schedule(rows, *, kind: str = "transaction") -> dict:
    """A Bundle of (patient, appointment) pairs, as JSON-ready data; each patient's fullUrl is urn:uuid:patient-N."""
    entries = []
    for n, pat, appt in rows:
        if pat is not None:
            entries.append(entry(pat, f"urn:uuid:patient-{n}"))
        entries.append(entry(appt))
    return Bundle(type=kind, entry=entries).model_dump(mode="json")
