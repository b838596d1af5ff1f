"""Input that used to reach a 500 (or an HTML error page): now a clear 4xx in the API's error shape."""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import pytest
from rest_framework.test import APIClient

from prepapp.models import Patient, SurgeryCase

from .factories import days_from_today

DEEP = ("[" * 100_000 + "]" * 100_000).encode()


def post_raw(client, path, body: bytes):
    return client.generic("POST", path, body, content_type="application/json", HTTP_ORIGIN="http://testserver")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/auth/invitation/"])
def test_deeply_nested_json_from_anyone_is_a_400(path):
    response = post_raw(APIClient(), path, DEEP)
    assert response.status_code == 400
    assert "nested" in json.dumps(response.json())


@pytest.mark.django_db
def test_deeply_nested_json_from_staff_and_patients_is_a_400(as_carol, as_pat, pat_checklist):
    task = pat_checklist.tasks.first()
    assert post_raw(as_carol, "/api/v1/patients/", DEEP).status_code == 400
    response = as_pat.generic("PATCH", f"/api/v1/me/tasks/{task.id}/", DEEP, content_type="application/json")
    assert response.status_code == 400
    # Nesting hidden inside a string is only text, and a modest depth is fine.
    text = {"note": "[" * 3000}
    assert as_pat.patch(f"/api/v1/me/tasks/{task.id}/", text, format="json").status_code == 200


def test_the_depth_count_skips_brackets_inside_strings():
    from prepapp.lib.request_limits import bracket_depth, nesting_depth

    assert bracket_depth(b'{"a": "[[[[[[", "b": [[1]]}') == 3
    assert bracket_depth(b'["\\"[[[["]') == 1
    assert nesting_depth({"a": [[{"b": []}]]}, limit=100) == 5


@pytest.mark.django_db
def test_an_oversized_body_gets_a_json_413(settings, as_carol):
    body = json.dumps({"full_name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)}).encode()
    response = as_carol.generic("POST", "/api/v1/patients/", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert "too large" in response.json()["detail"][0]


@pytest.mark.django_db
def test_enrolment_accepts_every_documented_field(as_carol):
    response = as_carol.post(
        "/api/v1/patients/",
        {
            "full_name": "Rita Reminders", "contact_email": "rita@example.org", "time_zone": "Europe/Madrid",
            "language": "es", "weight_kg": "70.5", "smoker": False, "diabetic": True,
            "on_blood_thinners": False, "takes_nsaids": True, "reminder_time": "07:30", "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00", "push_enabled": False, "email_enabled": True, "inapp_enabled": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    rita = Patient.objects.get(full_name="Rita Reminders")
    assert (rita.reminder_time, rita.quiet_hours_start, rita.quiet_hours_end) == (time(7, 30), time(22), time(7))
    assert rita.push_enabled is False and rita.diabetic is True


@pytest.mark.django_db
def test_a_surgery_more_than_two_years_ahead_is_refused(as_carol, pat):
    for when in ("9999-12-31", str(days_from_today(2 * 365 + 1))):
        response = as_carol.post(
            "/api/v1/cases/", {"patient": pat.id, "procedure": "Fusion", "surgery_date": when}, format="json"
        )
        assert response.status_code == 400
        assert "surgery_date" in response.json()
    assert not SurgeryCase.objects.filter(patient=pat).exists()
    # The limit counts from the patient's own today (a day behind UTC in the evening in America).
    last_day = pat.local_today() + timedelta(days=2 * 365)
    ok = as_carol.post("/api/v1/cases/", {"patient": pat.id, "procedure": "Fusion", "surgery_date": str(last_day)},
                       format="json")
    assert ok.status_code == 201, ok.content


@pytest.mark.django_db
def test_moving_a_surgery_years_ahead_is_refused_and_changes_nothing(as_carol, pat_checklist):
    case = pat_checklist.case
    before = list(pat_checklist.tasks.values_list("id", "due_date"))
    response = as_carol.post(f"/api/v1/cases/{case.id}/reschedule/", {"surgery_date": "9999-12-31"}, format="json")
    assert response.status_code == 400 and "surgery_date" in response.json()
    case.refresh_from_db()
    assert case.surgery_date == days_from_today(35)
    assert list(pat_checklist.tasks.values_list("id", "due_date")) == before


@pytest.mark.django_db
def test_the_calendar_copes_with_the_last_date_a_calendar_can_hold(as_pat, pat_checklist):
    """A surgery stored on 9999-12-31 (before dates were bounded) still gives a calendar, not a 500."""
    SurgeryCase.objects.filter(pk=pat_checklist.case_id).update(surgery_date=date.max, surgery_time=time(8))
    pat_checklist.tasks.update(due_date=date.max - timedelta(days=0))
    response = as_pat.get("/api/v1/me/calendar.ics")
    assert response.status_code == 200
    assert b"DTSTART;TZID=America/New_York:99991231T080000" in response.content



@pytest.mark.django_db
def test_unknown_and_read_only_fields_are_named_not_ignored(as_carol, as_pat, pat, pat_checklist):
    typo = as_carol.patch(f"/api/v1/patients/{pat.id}/", {"ful_name": "Pat E."}, format="json")
    assert typo.status_code == 400 and typo.json()["ful_name"] == ["This field is not accepted here."]
    read_only = as_carol.patch(f"/api/v1/patients/{pat.id}/", {"invitation_accepted_at": None}, format="json")
    assert read_only.status_code == 400 and read_only.json()["invitation_accepted_at"] == ["This field is read-only."]
    own = as_pat.patch("/api/v1/me/", {"language": "es", "full_name": "Someone Else"}, format="json")
    assert own.status_code == 400 and "full_name" in own.json()
    pat.refresh_from_db()
    assert (pat.full_name, pat.language) == ("Pat Example", "en")  # nothing half-written
    case = pat_checklist.case
    moved = as_carol.post(f"/api/v1/cases/{case.id}/reschedule/", {"surgery_dat": "2030-01-01"}, format="json")
    assert moved.status_code == 400 and "surgery_dat" in moved.json()
