"""Conditional GET of the patient's own reads: an unchanged answer is a 304, any change a new ETag.

pat refreshes her phone all day. Her checklist, surgery, inbox and profile come with an ETag;
asking again with it gives 304 until something that changes the answer happens: she ticks a
step off or writes an answer, carol moves her surgery, her facts, weight or language change,
a reminder lands in her inbox, or the day rolls over where she lives (every "days until due"
moves on). paul, another patient, never gets a 304 for pat's copy.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from checklists.models import Protocol, Task
from prepapp.lib.response_cache import forget_kept_bodies
from prepapp.reminders.models import InboxMessage
from prepapp.workflows import case_reschedule, checklist_assign, patient_update

from .support.fixtures import signed_in_phone

pytestmark = pytest.mark.django_db

CHECKLIST = "/api/v1/me/checklist/"


@pytest.fixture(autouse=True)
def _cold_caches(cold_payload_caches):
    """Every test here starts with nothing kept."""


def phone(patient) -> Client:
    return signed_in_phone(patient)


@pytest.fixture
def pat_phone(pat, pat_checklist):
    return phone(pat)


def etag_of(client, path=CHECKLIST) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "private, no-cache"
    return response["ETag"]


def still_current(client, etag, path=CHECKLIST) -> bool:
    response = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code in (200, 304), response.content
    if response.status_code == 304:
        assert response.content == b"" and response["ETag"] == etag
        assert response["Cache-Control"] == "private, no-cache"
    return response.status_code == 304


def first_open_task(client) -> dict:
    groups = client.get(CHECKLIST).json()["groups"]
    return next(t for name in ("overdue", "this_week", "coming_up") for t in groups[name])


# --- The checklist -------------------------------------------------------------------------


def test_an_unchanged_checklist_is_not_sent_again(pat_phone):
    etag = etag_of(pat_phone)
    assert etag.startswith('W/"')
    assert still_current(pat_phone, etag)
    assert still_current(pat_phone, etag)
    # A list of validators, as browsers may send, and "*".
    assert pat_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH=f'W/"other", {etag}').status_code == 304
    assert pat_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert pat_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH='W/"something-else"').status_code == 200


def test_ticking_a_step_off_and_undoing_it_changes_the_validator(pat_phone):
    before = etag_of(pat_phone)
    task = first_open_task(pat_phone)
    assert pat_phone.post(f"/api/v1/me/tasks/{task['id']}/complete/").status_code == 200
    done = etag_of(pat_phone)
    assert done != before and not still_current(pat_phone, before)
    assert pat_phone.post(f"/api/v1/me/tasks/{task['id']}/reopen/").status_code == 200
    reopened = etag_of(pat_phone)
    assert reopened not in (before, done)


def test_answers_and_notes_change_the_validator(pat_phone):
    before = etag_of(pat_phone)
    task = first_open_task(pat_phone)
    response = pat_phone.patch(f"/api/v1/me/tasks/{task['id']}/", {"note": "Ask about the brace"},
                               content_type="application/json")
    assert response.status_code == 200
    assert not still_current(pat_phone, before)


def test_a_change_that_commits_after_a_later_one_still_changes_the_validator(pat, pat_phone):
    """Two steps changed at nearly the same time, the earlier change committing last: the
    latest change time stays where it was, and the validator must move all the same."""
    tasks = Task.objects.filter(checklist__case__patient=pat).order_by("id")
    first, second = tasks[0], tasks[1]
    now = timezone.now()
    Task.objects.filter(pk=second.pk).update(updated_at=now)
    before = etag_of(pat_phone)
    body_before = pat_phone.get(CHECKLIST).json()
    # The earlier change to the first step lands now, stamped a moment before the second's.
    Task.objects.filter(pk=first.pk).update(note="Ask about the brace", updated_at=now - timedelta(milliseconds=3))
    assert not still_current(pat_phone, before)
    assert pat_phone.get(CHECKLIST).json() != body_before


def test_moving_the_surgery_changes_the_validator(pat_phone, pat_checklist):
    before = etag_of(pat_phone)
    case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=9))
    after = pat_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before
    assert after.json()["case"]["surgery_date"] == str(pat_checklist.case.surgery_date + timedelta(days=9))


def test_a_new_checklist_changes_the_validator(pat_phone, pat_checklist, carol):
    before = etag_of(pat_phone)
    checklist_assign(case=pat_checklist.case, protocol_version=pat_checklist.protocol_version, assigned_by=carol)
    assert not still_current(pat_phone, before)


@pytest.mark.parametrize(
    "change",
    [{"smoker": False}, {"takes_nsaids": False}, {"weight_kg": Decimal("95")}, {"time_zone": "Asia/Tokyo"},
     {"language": "es"}],
    ids=lambda change: next(iter(change)),
)
def test_the_patients_facts_weight_zone_and_language_change_the_validator(pat, pat_phone, change):
    before = etag_of(pat_phone)
    patient_update(patient=pat, **change)
    assert not still_current(pat_phone, before)


def test_each_language_has_its_own_validator(pat_phone):
    english = etag_of(pat_phone, CHECKLIST + "?lang=en")
    spanish = etag_of(pat_phone, CHECKLIST + "?lang=es")
    assert english != spanish
    assert not still_current(pat_phone, english, CHECKLIST + "?lang=es")
    assert still_current(pat_phone, spanish, CHECKLIST + "?lang=es")


def test_the_validator_moves_on_when_the_day_rolls_over_where_the_patient_lives(pat, pat_phone, monkeypatch):
    zone = ZoneInfo(pat.time_zone)  # America/New_York
    today = timezone.now().astimezone(zone).date()

    def at(hour, minute, day=today):
        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(ZoneInfo("UTC")))

    at(9, 0)
    morning = etag_of(pat_phone)
    at(23, 50)  # already tomorrow in UTC, still today in New York: nothing changed
    assert still_current(pat_phone, morning)
    at(0, 10, today + timedelta(days=1))
    response = pat_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH=morning)
    assert response.status_code == 200 and response["ETag"] != morning
    assert response.json()["today"] == str(today + timedelta(days=1))


def test_another_patient_never_gets_a_304_for_pats_copy(pat_phone, paul, pat_checklist, protocol_version, carol):
    from prepapp.workflows import case_book

    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=pat_checklist.case.surgery_date)
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    pats = etag_of(pat_phone)
    paul_phone = phone(paul)
    response = paul_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH=pats)
    assert response.status_code == 200 and response["ETag"] != pats
    assert response.json()["id"] == case.checklist.id


def test_the_protocols_procedure_changes_the_validator(pat_phone, pat_checklist):
    before = etag_of(pat_phone)
    Protocol.objects.filter(pk=pat_checklist.protocol_version.protocol_id).update(procedure="Knee replacement (left)")
    after = pat_phone.get(CHECKLIST, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before
    assert after.json()["protocol"]["procedure"] == "Knee replacement (left)"


# --- The rendered answer a process keeps by its validator ----------------------------------


def test_the_kept_answer_is_the_one_rendering_would_give(pat_phone):
    first = pat_phone.get(CHECKLIST)
    kept = pat_phone.get(CHECKLIST)
    forget_kept_bodies()
    rendered = pat_phone.get(CHECKLIST)
    assert first.content == kept.content == rendered.content
    assert kept["Content-Type"] == rendered["Content-Type"] == "application/json"
    assert kept["ETag"] == rendered["ETag"] and kept["Cache-Control"] == "private, no-cache"


def test_a_full_read_after_a_change_is_never_the_kept_copy(pat_phone):
    task = first_open_task(pat_phone)
    pat_phone.get(CHECKLIST)  # kept
    assert pat_phone.post(f"/api/v1/me/tasks/{task['id']}/complete/").status_code == 200
    done = pat_phone.get(CHECKLIST).json()["groups"]["done"]
    assert [t["id"] for t in done] == [task["id"]]
    assert pat_phone.patch(f"/api/v1/me/tasks/{task['id']}/", {"note": "Ask about the brace"},
                           content_type="application/json").status_code == 200
    assert pat_phone.get(CHECKLIST).json()["groups"]["done"][0]["note"] == "Ask about the brace"


def test_each_media_type_keeps_its_own_answer(pat_phone):
    compact = pat_phone.get(CHECKLIST)
    indented = pat_phone.get(CHECKLIST, HTTP_ACCEPT="application/json; indent=2")
    assert indented["ETag"] == compact["ETag"]
    assert indented.content != compact.content and indented.content.startswith(b'{\n  "id"')
    assert pat_phone.get(CHECKLIST).content == compact.content


def test_another_patient_never_gets_pats_kept_answer(pat_phone, paul, pat_checklist, protocol_version, carol):
    from prepapp.workflows import case_book

    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=pat_checklist.case.surgery_date)
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    pats = pat_phone.get(CHECKLIST)
    pauls = phone(paul).get(CHECKLIST)
    assert pauls.json()["id"] == case.checklist.id != pats.json()["id"]


def test_signed_out_the_validator_gets_nobody_anything(pat_phone):
    etag = etag_of(pat_phone)
    anonymous = Client()
    response = anonymous.get(CHECKLIST, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


# --- The inbox, the surgery and the profile ------------------------------------------------


def test_new_and_read_messages_change_the_inbox_validator(pat, pat_phone, pat_checklist):
    inbox = "/api/v1/me/inbox/"
    empty = etag_of(pat_phone, inbox)
    assert still_current(pat_phone, empty, inbox)
    task = pat_checklist.tasks.first()
    message = InboxMessage.objects.create(patient=pat, task=task, title="Reminder", body="Stop smoking today.")
    one = etag_of(pat_phone, inbox)
    assert one != empty and not still_current(pat_phone, empty, inbox)
    assert pat_phone.post(f"/api/v1/me/inbox/{message.id}/read/").status_code == 200
    read = etag_of(pat_phone, inbox)
    assert read != one and still_current(pat_phone, read, inbox)
    # Each page and filter has its own validator.
    assert not still_current(pat_phone, read, inbox + "?unread=1")


def test_the_surgery_and_the_profile_are_revalidated_too(pat, pat_phone, pat_checklist):
    case_etag, me_etag = etag_of(pat_phone, "/api/v1/me/case/"), etag_of(pat_phone, "/api/v1/me/")
    assert still_current(pat_phone, case_etag, "/api/v1/me/case/")
    assert still_current(pat_phone, me_etag, "/api/v1/me/")
    case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=2))
    assert not still_current(pat_phone, case_etag, "/api/v1/me/case/")
    response = pat_phone.patch("/api/v1/me/", {"reminder_time": "07:30"}, content_type="application/json")
    assert response.status_code == 200
    assert not still_current(pat_phone, me_etag, "/api/v1/me/")


def test_staff_reads_carry_no_validator_and_are_never_stored(as_carol, pat_checklist):
    response = as_carol.get(f"/api/v1/cases/{pat_checklist.case_id}/checklist/")
    assert response.status_code == 200
    assert "ETag" not in response and response["Cache-Control"] == "no-store"
