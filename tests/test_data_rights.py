"""A patient's data rights: a full copy for the patient, erasure by the care team with the audit trail kept."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.task import Task as FhirTask

from prepapp.models import AuditEntry, Patient
from prepapp.reminders.models import Reminder


@pytest.mark.django_db
def test_a_patient_downloads_all_of_their_data(as_pat, pat_checklist, paul):
    task = pat_checklist.tasks.first()
    as_pat.patch(f"/api/v1/me/tasks/{task.id}/", {"note": "Ask about the brace"}, format="json")
    response = as_pat.get("/api/v1/me/export/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["patient"]["full_name"] == "Pat Example" and data["patient"]["contact_email"] == "pat@example.org"
    [surgery] = data["surgeries"]
    assert len(surgery["checklist"]["tasks"]) == pat_checklist.tasks.count()
    assert "Ask about the brace" in {t["note"] for t in surgery["checklist"]["tasks"]}
    assert len(data["reminders"]) == Reminder.objects.filter(patient=pat_checklist.case.patient).count() > 0
    assert "Paul Other" not in response.content.decode()


@pytest.mark.django_db
def test_the_download_holds_the_patients_fhir_bundle_with_their_care_plan_and_steps(as_pat, as_carol, pat_checklist,
                                                                                    paul):
    data = json.loads(as_pat.get("/api/v1/me/export/").content)
    bundle = Bundle.model_validate(data["fhir"])
    assert bundle.type == "searchset"
    resources = [entry.resource for entry in bundle.entry]
    [patient] = [r for r in resources if isinstance(r, FhirPatient)]
    assert patient.id == str(pat_checklist.case.patient_id) and patient.name[0].text == "Pat Example"
    [care_plan] = [r for r in resources if isinstance(r, CarePlan)]
    assert care_plan.id == str(pat_checklist.pk)
    assert care_plan.subject.reference == f"Patient/{patient.id}"
    steps = {r.id for r in resources if isinstance(r, FhirTask)}
    assert steps == {str(pk) for pk in pat_checklist.tasks.values_list("pk", flat=True)}
    # The care plan names each of its steps, and each step its care plan.
    assert {a.reference.reference for a in care_plan.activity if a.reference} == {f"Task/{pk}" for pk in steps}
    assert {r.basedOn[0].reference for r in resources if isinstance(r, FhirTask)} == {f"CarePlan/{care_plan.id}"}
    # The same resources as staff read at $everything, and nobody else's records.
    staff_read = as_carol.get(f"/fhir/R4/Patient/{patient.id}/$everything").json()
    assert [e["fullUrl"] for e in staff_read["entry"]] == [e["fullUrl"] for e in data["fhir"]["entry"]]
    assert "Paul Other" not in json.dumps(data["fhir"])


@pytest.mark.django_db
def test_only_patients_download_their_own_copy(as_carol, client):
    assert as_carol.get("/api/v1/me/export/").status_code == 403
    assert client.get("/api/v1/me/export/").status_code in (401, 403)


@pytest.mark.django_db
def test_staff_erase_a_patient_and_the_audit_trail_stays(as_carol, carol, pat_checklist, client):
    pat = pat_checklist.case.patient
    user_id = pat.user_id
    client.force_login(pat.user)  # the patient's phone, signed in
    assert client.get("/api/v1/me/").status_code == 200
    as_carol.get(f"/api/v1/patients/{pat.id}/")  # an audited read before the erasure
    pending = Reminder.objects.filter(patient=pat, status=Reminder.Status.PENDING).count()
    assert pending > 0

    wrong = as_carol.post(f"/api/v1/patients/{pat.id}/erase/", {"confirm_full_name": "Someone Else"}, format="json")
    assert wrong.status_code == 400 and "confirm_full_name" in wrong.json()
    assert Patient.objects.filter(pk=pat.id).exists()

    response = as_carol.post(f"/api/v1/patients/{pat.id}/erase/", {"confirm_full_name": "Pat Example"}, format="json")
    assert response.status_code == 200 and response.json()["reference"] == f"patient-{pat.id}"
    assert not Patient.objects.filter(pk=pat.id).exists()
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert not Reminder.objects.filter(patient_id=pat.id).exists()
    kept = AuditEntry.objects.filter(actor=carol, patient__isnull=True)
    assert {"read", "erase"} <= set(kept.values_list("action", flat=True))
    assert client.get("/api/v1/me/").status_code == 401  # the phone's session ended with the login


@pytest.mark.django_db
def test_an_outsider_cannot_erase(as_olga, pat):
    response = as_olga.post(f"/api/v1/patients/{pat.id}/erase/", {"confirm_full_name": "Pat Example"}, format="json")
    assert response.status_code == 404
    assert Patient.objects.filter(pk=pat.id).exists()


@pytest.mark.django_db
def test_deleting_a_patient_any_way_removes_their_login(pat):
    user_id = pat.user_id
    Patient.objects.filter(pk=pat.pk).delete()
    assert not get_user_model().objects.filter(pk=user_id).exists()
