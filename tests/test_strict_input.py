"""Strict input: a time with a UTC offset, an answer of the wrong type and an unknown filter value
are refused with a 400 naming the field or parameter, and nothing is stored."""

from __future__ import annotations

from datetime import time

import pytest

from checklists.models import CheckIn, Task
from prepapp.lib.schema import OFFSET_REFUSED
from prepapp.models import SurgeryCase

from .factories import days_from_today
from .safety_support import after_surgery, phones

pytestmark = pytest.mark.django_db
OFFSET = "21:00:00+05:00"


def test_a_surgery_time_with_an_offset_is_refused_and_nothing_is_booked(as_carol, pat):
    answer = as_carol.post("/api/v1/cases/", {"patient": pat.pk, "procedure": "Lumbar fusion",
                                              "surgery_date": days_from_today(40).isoformat(), "surgery_time": OFFSET},
                           format="json")
    assert answer.status_code == 400 and answer.json() == {"surgery_time": [OFFSET_REFUSED]}
    assert not SurgeryCase.objects.filter(patient=pat).exists()


def test_a_moved_arrival_time_or_quiet_hours_with_an_offset_are_refused(as_carol, pat, pat_case):
    moved = as_carol.post(f"/api/v1/cases/{pat_case.pk}/reschedule/", {
        "surgery_date": days_from_today(50).isoformat(), "arrival_time": "06:30:00-03:00"}, format="json")
    assert moved.status_code == 400 and list(moved.json()) == ["arrival_time"]
    pat_case.refresh_from_db()
    assert pat_case.surgery_date == days_from_today(35)
    quiet = as_carol.patch(f"/api/v1/patients/{pat.pk}/", {"quiet_hours_start": OFFSET}, format="json")
    assert quiet.status_code == 400 and list(quiet.json()) == ["quiet_hours_start"]
    kept = as_carol.patch(f"/api/v1/patients/{pat.pk}/", {"quiet_hours_start": "21:30"}, format="json")
    assert kept.status_code == 200 and kept.json()["quiet_hours_start"] == "21:30:00"
    pat.refresh_from_db()
    assert pat.quiet_hours_start == time(21, 30)


def test_the_schema_says_an_offset_is_refused(as_carol):
    schema = as_carol.get("/api/schema/?format=json").json()
    quiet = schema["components"]["schemas"]["Patient"]["properties"]["quiet_hours_start"]
    assert "refused" in quiet["description"] and "+" not in quiet["pattern"]


def test_a_steps_text_answer_refuses_a_number_naming_it(as_pat, pat_checklist):
    task = Task.objects.get(checklist=pat_checklist, definition__key="preop-evaluation")
    refused = as_pat.patch(f"/api/v1/me/tasks/{task.pk}/", {"answers": {"mri": 5, "ct": True}}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"answers": {"mri": ["Must be text (a JSON string), not a number."],
                                          "ct": ["Must be text (a JSON string), not true or false."]}}
    note = as_pat.patch(f"/api/v1/me/tasks/{task.pk}/", {"note": 12}, format="json")
    assert note.status_code == 400 and list(note.json()) == ["note"]
    task.refresh_from_db()
    assert task.answers == {} and task.note == ""
    saved = as_pat.patch(f"/api/v1/me/tasks/{task.pk}/", {"answers": {"mri": "5 March"}}, format="json")
    assert saved.status_code == 200
    task.refresh_from_db()
    assert task.answers == {"mri": "5 March"}


def test_a_check_in_number_stays_a_number_and_a_number_as_text_is_refused(as_pat, pat, pat_case, pat_checklist, riverside):
    phones(riverside)
    after_surgery(pat, pat_case, 3)
    refused = as_pat.post("/api/v1/me/check-ins/", {"answers": {"back-pain": "5"}}, format="json")
    assert refused.status_code == 400 and "answers" in str(refused.json())
    assert as_pat.post("/api/v1/me/check-ins/", {"answers": {"back-pain": 5}}, format="json").status_code == 201
    assert CheckIn.objects.get().answers == {"back-pain": 5}


@pytest.mark.parametrize("query, parameter", [
    ("?outcome=", "outcome"), ("?outcome=delivered", "outcome"), ("?channel=sms", "channel"),
])
def test_an_unknown_delivery_filter_is_a_400_naming_it(as_carol, pat, query, parameter):
    answer = as_carol.get(f"/api/v1/patients/{pat.pk}/deliveries/{query}")
    assert answer.status_code == 400 and list(answer.json()) == [parameter]
    assert as_carol.get(f"/api/v1/patients/{pat.pk}/deliveries/?outcome=failed&channel=push").status_code == 200


def test_an_unknown_inbox_filter_is_a_400_and_another_organizations_log_a_404(as_pat, as_olga, pat):
    answer = as_pat.get("/api/v1/me/inbox/?unread=maybe")
    assert answer.status_code == 400 and list(answer.json()) == ["unread"]
    assert as_pat.get("/api/v1/me/inbox/?unread=0").status_code == 200
    assert as_olga.get(f"/api/v1/patients/{pat.pk}/deliveries/?outcome=bogus").status_code == 404
