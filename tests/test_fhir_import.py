"""The hospital's schedule in: a Bundle of Patient and Appointment resources, posted by an integration client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from checklists.models import Checklist
from prepapp.api.fhir_common import FhirThrottle
from prepapp.fhir.models import AppointmentLink, HeldMatch, PatientIdentifier, ProcedureMapping
from prepapp.fhir.services import integration_client_issue, integration_client_revoke
from prepapp.models import AuditEntry, Patient, SurgeryCase
from prepapp.reminders.models import Announcement, Reminder
from prepapp.services import patient_enrol

from . import fhir_bundles as fb

pytestmark = pytest.mark.django_db


def in_days(n: int):
    return timezone.now().date() + timedelta(days=n)


@pytest.fixture
def mapping(riverside, protocol_version):
    return ProcedureMapping.objects.create(organization=riverside, system=fb.SNOMED, code=fb.FUSION_CODE,
                                           display="Lumbar fusion", protocol=protocol_version.protocol)


@pytest.fixture
def riverside_ehr(riverside, mapping):
    return integration_client_issue(organization=riverside, name="Riverside EHR interface")


@pytest.fixture
def elsewhere_ehr(elsewhere, protocol_version):
    ProcedureMapping.objects.create(organization=elsewhere, system=fb.SNOMED, code=fb.FUSION_CODE,
                                    protocol=protocol_version.protocol)
    return integration_client_issue(organization=elsewhere, name="Elsewhere EHR interface")


def as_client(client) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {client.key}")
    return api


def post(api, bundle):
    return api.post("/fhir/R4/", bundle, format="json")


def issue_at(response) -> tuple[str, list[str]]:
    assert response["Content-Type"].startswith("application/fhir+json")
    body = OperationOutcome.model_validate(response.json())
    return body.issue[0].diagnostics, body.issue[0].expression or []


def fifty(moved: dict | None = None, status: dict | None = None):
    moved, status = moved or {}, status or {}
    return fb.schedule([
        (n, fb.patient(n, family=f"Chalmers{n}"),
         fb.appointment(n, on=moved.get(n, in_days(30 + n % 20)), status=status.get(n, "booked")))
        for n in range(50)
    ])


def test_fifty_patients_posted_twice_are_enrolled_booked_and_assigned_once(riverside_ehr, riverside):
    api = as_client(riverside_ehr)
    first = post(api, fifty())
    assert first.status_code == 200, first.json()
    answer = Bundle.model_validate(first.json())
    assert answer.type == "transaction-response"
    assert [e.response.status for e in answer.entry].count("201 Created") == 100
    assert Patient.objects.filter(organization=riverside).count() == 50
    assert SurgeryCase.objects.filter(patient__organization=riverside, status="scheduled").count() == 50
    assert Checklist.objects.filter(case__patient__organization=riverside).count() == 50
    # Both identifiers of each patient are kept; the MRN and the appointment's identifier find them again.
    assert PatientIdentifier.objects.filter(organization=riverside).count() == 100
    counts = (Patient.objects.count(), SurgeryCase.objects.count(), Reminder.objects.count(),
              Announcement.objects.count(), AuditEntry.objects.count())

    second = post(api, fifty())

    assert second.status_code == 200
    assert {e.response.status for e in Bundle.model_validate(second.json()).entry} == {"200 OK"}
    assert (Patient.objects.count(), SurgeryCase.objects.count(), Reminder.objects.count(),
            Announcement.objects.count(), AuditEntry.objects.count()) == counts


def test_a_moved_and_a_cancelled_appointment_move_and_cancel_and_the_patients_are_told(riverside_ehr):
    api = as_client(riverside_ehr)
    assert post(api, fifty()).status_code == 200
    new_day = in_days(60)
    changed = post(api, fifty(moved={3: new_day}, status={4: "cancelled"}))
    assert changed.status_code == 200, changed.json()
    moved = AppointmentLink.objects.get(value="OR-00003").case
    cancelled = AppointmentLink.objects.get(value="OR-00004").case
    assert moved.surgery_date == new_day and moved.status == "scheduled"
    assert cancelled.status == "cancelled"
    # Told exactly as a coordinator's move and cancellation tell them: an announcement, sent on their channels.
    told = Announcement.objects.get(patient=moved.patient, event=Announcement.Event.MOVED)
    assert told.new_date == new_day
    assert Reminder.objects.filter(announcement=told).exists()
    assert Announcement.objects.filter(patient=cancelled.patient, event=Announcement.Event.CANCELLED).exists()
    assert not Reminder.objects.filter(task__checklist__case=cancelled, status="pending").exists()
    # Only those two changed.
    assert Announcement.objects.filter(event=Announcement.Event.MOVED).count() == 1
    assert AuditEntry.objects.filter(action="reschedule", actor=riverside_ehr.user).count() == 1


def test_a_bad_entry_refuses_the_whole_bundle_naming_the_entry_and_the_field(riverside_ehr):
    bundle = fifty()
    bundle["entry"][7]["resource"]["start"] = "next tuesday"
    refused = post(as_client(riverside_ehr), bundle)
    assert refused.status_code == 400
    text, expression = issue_at(refused)
    assert expression == ["Bundle.entry[7].resource.start"]
    assert Patient.objects.count() == 0 and SurgeryCase.objects.count() == 0


def test_an_unmapped_procedure_code_refuses_the_bundle_and_writes_nothing(riverside_ehr):
    rows = [(n, fb.patient(n, family=f"Chalmers{n}"), fb.appointment(n, on=in_days(30))) for n in range(3)]
    rows.append((3, fb.patient(3), fb.appointment(3, on=in_days(30), code="12345")))
    refused = post(as_client(riverside_ehr), fb.schedule(rows))
    assert refused.status_code == 422
    text, expression = issue_at(refused)
    assert expression == ["Bundle.entry[7].resource.serviceType"]
    assert "12345" in text
    # Entries 0 to 5 were good, and were undone with the rest.
    assert Patient.objects.count() == 0 and SurgeryCase.objects.count() == 0 and PatientIdentifier.objects.count() == 0


def test_a_past_date_is_refused_with_the_workflows_own_words(riverside_ehr):
    bundle = fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(-3)))])
    refused = post(as_client(riverside_ehr), bundle)
    assert refused.status_code == 422
    text, expression = issue_at(refused)
    assert expression == ["Bundle.entry[1].resource.surgery_date"]
    assert "past" in text
    assert Patient.objects.count() == 0


def test_a_name_and_birth_date_match_without_the_identifier_is_held_not_enrolled(riverside_ehr, riverside):
    existing = patient_enrol(organization=riverside, full_name="Peter James1 Chalmers",
                             date_of_birth=fb.patient(1).birthDate)
    answer = post(as_client(riverside_ehr), fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30)))]))
    assert answer.status_code == 200
    assert Patient.objects.filter(organization=riverside).count() == 1
    assert SurgeryCase.objects.count() == 0
    held = HeldMatch.objects.get()
    assert (held.candidate, held.value) == (existing, "MRN00001")
    # Posted again: still one held match, nothing booked.
    post(as_client(riverside_ehr), fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30)))]))
    assert HeldMatch.objects.count() == 1 and SurgeryCase.objects.count() == 0


def test_an_appointment_for_another_organizations_patient_is_refused(elsewhere_ehr, pat):
    bundle = fb.schedule([(1, None, fb.appointment(1, on=in_days(30), patient_ref=f"Patient/{pat.pk}"))])
    refused = post(as_client(elsewhere_ehr), bundle)
    assert refused.status_code == 422
    text, expression = issue_at(refused)
    assert expression == ["Bundle.entry[0].resource.participant"]
    assert SurgeryCase.objects.filter(patient=pat).count() == 0


def test_identifiers_are_matched_within_the_clients_organization_only(riverside_ehr, elsewhere_ehr, riverside,
                                                                      elsewhere):
    bundle = fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30)))])
    assert post(as_client(riverside_ehr), bundle).status_code == 200
    assert post(as_client(elsewhere_ehr), bundle).status_code == 200
    # The same MRN at another clinic is another record there, never Riverside's patient.
    assert Patient.objects.filter(organization=riverside).count() == 1
    assert Patient.objects.filter(organization=elsewhere).count() == 1


def test_only_an_integration_client_may_post_and_a_revoked_key_stops_working(riverside_ehr, as_carol, as_pat):
    bundle = fb.schedule([(1, fb.patient(1), fb.appointment(1, on=in_days(30)))])
    anonymous = APIClient().post("/fhir/R4/", bundle, format="json")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    issue_at(anonymous)
    assert as_carol.post("/fhir/R4/", bundle, format="json").status_code == 403
    assert as_pat.post("/fhir/R4/", bundle, format="json").status_code == 403
    integration_client_revoke(client=riverside_ehr)
    assert post(as_client(riverside_ehr), bundle).status_code == 401
    assert Patient.objects.filter(full_name__startswith="Peter").count() == 0


def test_the_client_is_throttled_with_an_operation_outcome(riverside_ehr, monkeypatch):
    # DRF reads the rates once, at start-up: the test sets this throttle's own.
    monkeypatch.setattr(FhirThrottle, "rate", "2/min", raising=False)
    api = as_client(riverside_ehr)
    assert [api.get("/fhir/R4/Patient").status_code for _ in range(2)] == [200, 200]
    limited = api.get("/fhir/R4/Patient")
    assert limited.status_code == 429 and "Retry-After" in limited
    issue_at(limited)
