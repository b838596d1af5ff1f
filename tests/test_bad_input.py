"""Bad input: a clear 4xx naming the field, and nothing written."""

import pytest

from checklists.models import Checklist, Task
from prepapp.models import Patient, SurgeryCase

from .factories import days_from_today

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Patient.objects.count(),
        list(SurgeryCase.objects.values_list("id", "surgery_date", "status")),
        Checklist.objects.count(),
        list(Task.objects.values_list("id", "status", "due_date", "note")),
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"full_name": "A", "time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"full_name": "A", "language": "tlh"}, "language"),
        ({"full_name": "A", "weight_kg": "heavy"}, "weight_kg"),
        ({"full_name": "A", "weight_kg": "2"}, "weight_kg"),
        ({"full_name": "A", "contact_email": "not-an-email"}, "contact_email"),
        ({"full_name": "A", "smoker": "perhaps"}, "smoker"),
        ({"time_zone": "UTC"}, "full_name"),
    ],
)
def test_enrolment_errors_name_the_field(as_carol, riverside, body, field):
    before = snapshot()
    response = as_carol.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert snapshot() == before


@pytest.mark.parametrize(
    "body, field",
    [
        # Two days back: one day back can still be today where the patient lives.
        ({"procedure": "x", "surgery_date": str(days_from_today(-2))}, "surgery_date"),
        ({"procedure": "x", "surgery_date": "next tuesday"}, "surgery_date"),
        ({"procedure": "x", "surgery_date": str(days_from_today(10)), "surgery_time": "25:00"}, "surgery_time"),
        ({"surgery_date": str(days_from_today(10))}, "procedure"),
        ({"procedure": "x", "surgery_date": str(days_from_today(10)), "patient": 999999}, "patient"),
        ({"procedure": "x", "surgery_date": str(days_from_today(10)), "patient": "pat"}, "patient"),
    ],
)
def test_booking_errors_name_the_field(as_carol, pat, body, field):
    body = {"patient": pat.pk, **body}
    before = snapshot()
    response = as_carol.post("/api/v1/cases/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert snapshot() == before


def test_a_second_scheduled_surgery_is_refused(as_carol, pat_case):
    response = as_carol.post(
        "/api/v1/cases/", {"patient": pat_case.patient_id, "procedure": "x", "surgery_date": str(days_from_today(60))},
        format="json",
    )
    assert response.status_code == 400 and "patient" in response.json()
    assert SurgeryCase.objects.count() == 1


def test_unknown_protocol_and_version(as_carol, pat_case, protocol_version):
    response = as_carol.post(f"/api/v1/cases/{pat_case.pk}/assign/", {"protocol": "knee-replacement"}, format="json")
    assert response.status_code == 400 and "protocol" in response.json()
    response = as_carol.post(f"/api/v1/cases/{pat_case.pk}/assign/", {"protocol": "mis-lumbar-fusion", "version": 42}, format="json")
    assert response.status_code == 400 and "version" in response.json()
    assert not Checklist.objects.exists()


def test_rescheduling_into_the_past_or_a_cancelled_case(as_carol, pat_checklist):
    case = pat_checklist.case
    before = snapshot()
    response = as_carol.post(f"/api/v1/cases/{case.pk}/reschedule/", {"surgery_date": str(days_from_today(-3))}, format="json")
    assert response.status_code == 400 and "surgery_date" in response.json()
    response = as_carol.post(f"/api/v1/cases/{case.pk}/reschedule/", {}, format="json")
    assert response.status_code == 400 and "surgery_date" in response.json()
    assert snapshot() == before
    as_carol.post(f"/api/v1/cases/{case.pk}/cancel/")
    response = as_carol.post(f"/api/v1/cases/{case.pk}/reschedule/", {"surgery_date": str(days_from_today(50))}, format="json")
    assert response.status_code == 400 and "status" in response.json()
    assert SurgeryCase.objects.get(pk=case.pk).surgery_date == days_from_today(35)


def test_assigning_over_a_started_checklist_is_refused(as_carol, as_pat, pat_checklist):
    task = pat_checklist.tasks.first()
    as_pat.post(f"/api/v1/me/tasks/{task.pk}/complete/")
    before = snapshot()
    response = as_carol.post(f"/api/v1/cases/{pat_checklist.case_id}/assign/", {"protocol": "mis-lumbar-fusion"}, format="json")
    assert response.status_code == 400 and "protocol" in response.json()
    assert snapshot() == before


def test_malformed_json_names_the_body(as_carol):
    response = as_carol.generic("POST", "/api/v1/patients/", '{"full_name": "A",', content_type="application/json")
    assert response.status_code == 400
    assert "body" in response.json()
    assert not Patient.objects.exists()


def test_answers_with_wrong_types_or_unknown_items(as_pat, pat_checklist):
    questions = pat_checklist.tasks.get(definition__key="surgeon-questions")
    before = snapshot()
    response = as_pat.patch(f"/api/v1/me/tasks/{questions.pk}/", {"answers": ["not", "a", "mapping"]}, format="json")
    assert response.status_code == 400 and "answers" in response.json()
    response = as_pat.patch(f"/api/v1/me/tasks/{questions.pk}/", {"answers": {"q-favourite-colour": "blue"}}, format="json")
    assert response.status_code == 400 and "answers" in response.json()
    response = as_pat.patch(f"/api/v1/me/tasks/{questions.pk}/", {"note": "x" * 5000}, format="json")
    assert response.status_code == 400 and "note" in response.json()
    assert snapshot() == before


def test_preferences_validate_time_zone_and_times(as_pat, pat):
    response = as_pat.patch("/api/v1/me/", {"time_zone": "Atlantis/Capital"}, format="json")
    assert response.status_code == 400 and "time_zone" in response.json()
    response = as_pat.patch("/api/v1/me/", {"reminder_time": "nine"}, format="json")
    assert response.status_code == 400 and "reminder_time" in response.json()
    pat.refresh_from_db()
    assert pat.time_zone == "America/New_York"


def test_a_wrong_invitation_code_names_the_code(client, pat):
    # Sent from the app's own page (Origin): sign-in from anywhere else is refused first.
    own_page = {"HTTP_ORIGIN": "http://testserver"}
    response = client.post(
        "/api/v1/auth/invitation/", {"code": "NOPE1234"}, content_type="application/json", **own_page
    )
    assert response.status_code == 400 and "code" in response.json()
    response = client.post("/api/v1/auth/invitation/", {}, content_type="application/json", **own_page)
    assert response.status_code == 400 and "code" in response.json()


def test_completing_a_task_of_a_cancelled_surgery_is_refused(as_pat, as_carol, pat_checklist):
    task = pat_checklist.tasks.first()
    as_carol.post(f"/api/v1/cases/{pat_checklist.case_id}/cancel/")
    response = as_pat.post(f"/api/v1/me/tasks/{task.pk}/complete/")
    assert response.status_code == 400 and "task" in response.json()
    task.refresh_from_db()
    assert task.status == "open"
