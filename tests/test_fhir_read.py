"""A patient's plan out as FHIR: every resource validates, searches by patient and _lastUpdated, $everything, scoping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.plandefinition import PlanDefinition
from fhir.resources.R4B.task import Task as FhirTask
from rest_framework.test import APIClient

from checklists.models import Task
from prepapp.fhir import codes
from prepapp.fhir.services import integration_client_issue
from prepapp.models import AuditEntry
from prepapp.reminders.models import Reminder
from prepapp.workflows import task_complete

pytestmark = pytest.mark.django_db


def fhir_body(response):
    assert response["Content-Type"].startswith("application/fhir+json")
    return response.json()


@pytest.fixture
def done_step(pat_checklist, pat):
    task = Task.objects.filter(checklist=pat_checklist).order_by("due_date").first()
    return task_complete(task=task, by=pat.user)


def test_everything_holds_the_plan_and_every_resource_validates(as_carol, pat, pat_checklist, done_step):
    Reminder.objects.filter(patient=pat).order_by("id").filter(
        pk=Reminder.objects.filter(patient=pat).order_by("id").values("pk")[:1]
    ).update(status=Reminder.Status.SENT, sent_at=timezone.now(), read_at=timezone.now())
    response = as_carol.get(f"/fhir/R4/Patient/{pat.pk}/$everything")
    assert response.status_code == 200
    bundle = Bundle.model_validate(fhir_body(response))  # every entry is validated as its own resource type
    types = [e.resource.get_resource_type() for e in bundle.entry]
    assert types[0] == "Patient"
    assert {"Appointment", "CarePlan", "Task", "CommunicationRequest", "Communication"} <= set(types)
    assert types.count("Task") == Task.objects.filter(checklist=pat_checklist).count()
    careplan = next(e.resource for e in bundle.entry if isinstance(e.resource, CarePlan))
    version = pat_checklist.protocol_version
    assert careplan.instantiatesCanonical == [f"{codes.plan_definition_url(version.protocol.key)}|{version.number}"]
    done = next(e.resource for e in bundle.entry if isinstance(e.resource, FhirTask) and e.resource.id == str(done_step.pk))
    assert done.status == "completed" and done.executionPeriod.end is not None
    assert done.restriction.period.end is not None
    assert AuditEntry.objects.filter(actor=as_carol.handler._force_user, patient=pat, action="fhir-everything").exists()


def test_search_by_patient_and_last_updated(as_carol, pat, paul, pat_checklist):
    everyone = Bundle.model_validate(fhir_body(as_carol.get("/fhir/R4/Patient")))
    assert {e.resource.id for e in everyone.entry} == {str(pat.pk), str(paul.pk)}
    tasks = Bundle.model_validate(fhir_body(as_carol.get(f"/fhir/R4/Task?patient=Patient/{pat.pk}&_count=5")))
    assert tasks.total == Task.objects.filter(checklist=pat_checklist).count()
    assert len(tasks.entry) == 5 and any(link.relation == "next" for link in tasks.link)
    later = (timezone.now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    none_since = Bundle.model_validate(fhir_body(as_carol.get(f"/fhir/R4/Task?_lastUpdated=gt{later}")))
    assert none_since.total == 0
    earlier = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    since = Bundle.model_validate(fhir_body(as_carol.get(f"/fhir/R4/CarePlan?_lastUpdated=ge{earlier}")))
    assert [e.resource.id for e in since.entry] == [str(pat_checklist.pk)]


def test_a_bad_search_parameter_is_named(as_carol):
    response = as_carol.get("/fhir/R4/Task?_lastUpdated=gtyesterday")
    assert response.status_code == 400
    outcome = OperationOutcome.model_validate(fhir_body(response))
    assert outcome.issue[0].expression == ["_lastUpdated"]
    unknown = as_carol.get("/fhir/R4/Task?status=ready")
    assert unknown.status_code == 400
    assert OperationOutcome.model_validate(fhir_body(unknown)).issue[0].expression == ["status"]


def test_another_organizations_staff_client_and_patients_see_nothing(as_olga, elsewhere, as_pat, as_paul, pat,
                                                                      pat_checklist):
    assert as_olga.get(f"/fhir/R4/Patient/{pat.pk}").status_code == 404
    assert as_olga.get(f"/fhir/R4/Patient/{pat.pk}/$everything").status_code == 404
    assert as_olga.get(f"/fhir/R4/CarePlan/{pat_checklist.pk}").status_code == 404
    assert Bundle.model_validate(fhir_body(as_olga.get(f"/fhir/R4/Task?patient={pat.pk}"))).total == 0
    elsewhere_ehr = integration_client_issue(organization=elsewhere, name="Elsewhere EHR")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {elsewhere_ehr.key}")
    missing = api.get(f"/fhir/R4/Patient/{pat.pk}")
    assert missing.status_code == 404
    OperationOutcome.model_validate(fhir_body(missing))
    assert Bundle.model_validate(fhir_body(api.get("/fhir/R4/Patient"))).total == 0
    # Patients use their own data export, not the care team's FHIR reads.
    assert as_pat.get(f"/fhir/R4/Patient/{pat.pk}").status_code == 403
    assert as_paul.get(f"/fhir/R4/Patient/{pat.pk}/$everything").status_code == 403
    assert not AuditEntry.objects.filter(patient=pat, action__startswith="fhir").exists()


def test_an_integration_client_reads_its_organizations_records_and_is_audited(riverside, pat, pat_checklist):
    client = integration_client_issue(organization=riverside, name="Riverside EHR")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {client.key}")
    careplan = CarePlan.model_validate(fhir_body(api.get(f"/fhir/R4/CarePlan/{pat_checklist.pk}")))
    assert careplan.subject.reference == f"Patient/{pat.pk}"
    entry = AuditEntry.objects.get(patient=pat, action="fhir-read")
    assert entry.actor == client.user


def test_metadata_plan_definitions_and_unknown_paths(as_carol, protocol_version):
    statement = CapabilityStatement.model_validate(fhir_body(APIClient().get("/fhir/R4/metadata")))
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} >= {"Patient", "CarePlan", "Task", "PlanDefinition"}
    plans = Bundle.model_validate(fhir_body(as_carol.get("/fhir/R4/PlanDefinition")))
    assert [e.resource.id for e in plans.entry] == [str(protocol_version.pk)]
    PlanDefinition.model_validate(fhir_body(as_carol.get(f"/fhir/R4/PlanDefinition/{protocol_version.pk}")))
    missing = APIClient().get("/fhir/R4/Nothing/here")
    assert missing.status_code == 404
    OperationOutcome.model_validate(fhir_body(missing))
    assert APIClient().get("/fhir/R4/Patient").status_code == 401
