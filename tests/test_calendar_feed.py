"""The private calendar feed a phone subscribes to: stable events across moves, cancellation, secrets, privacy."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from icalendar import Calendar

from checklists.models import Task
from prepapp.models import CalendarFeed, Patient
from prepapp.workflows import case_book, case_cancel, case_reschedule, checklist_assign, patient_set_status

from .factories import days_from_today

pytestmark = pytest.mark.django_db


def make_link(client, **body) -> dict:
    response = client.post("/api/v1/me/calendar-feed/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def fetch(url: str):
    """What a phone's calendar does: a plain GET of the address, without any session."""
    return Client().get(path_of(url))


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def events(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/calendar")
    found = Calendar.from_ical(response.content).walk("VEVENT")
    uids = [str(e["uid"]) for e in found]
    assert len(uids) == len(set(uids)), "an event is in the feed twice"
    return {uid.split("@")[0]: e for uid, e in zip(uids, found)}


def test_a_feed_subscribed_before_a_move_shows_the_new_dates_after_it(as_pat, pat, pat_checklist, carol):
    link = make_link(as_pat)
    assert link["webcal_url"].startswith("webcal://") and link["url"].endswith(".ics")
    assert link["qr_code"].startswith("data:image/svg+xml;base64,")
    before = events(fetch(link["url"]))
    case = pat_checklist.case
    tasks = list(Task.objects.filter(checklist=pat_checklist).select_related("definition"))
    assert set(before) >= {f"surgery-{case.pk}"} | {f"task-{t.pk}" for t in tasks}
    assert before[f"surgery-{case.pk}"].decoded("dtstart") == case.surgery_date
    stop_smoking = next(t for t in tasks if t.definition.key == "stop-smoking")
    window = before[f"task-{stop_smoking.pk}"]
    # A window is one all-day span over it (DTEND is the day after its end).
    assert window.decoded("dtstart") == stop_smoking.window_start
    assert window.decoded("dtend") == stop_smoking.window_end + timedelta(days=1)
    rule_ends = [uid for uid in before if uid.startswith(f"rule-end-{case.pk}-")]
    assert rule_ends, "the rules' last days are in the feed"

    case_reschedule(case=case, surgery_date=case.surgery_date + timedelta(days=7), by=carol)

    after = events(fetch(link["url"]))
    assert set(after) == set(before)  # the same events, moved: none added, none duplicated
    assert after[f"surgery-{case.pk}"].decoded("dtstart") == case.surgery_date + timedelta(days=7)
    moved = Task.objects.get(pk=stop_smoking.pk)
    assert after[f"task-{moved.pk}"].decoded("dtend") == moved.window_end + timedelta(days=1)
    for uid, event in after.items():
        assert int(event["sequence"]) > int(before[uid]["sequence"]), uid
        assert str(event["status"]) == "CONFIRMED"


def test_a_cancelled_surgery_marks_every_event_cancelled_with_a_higher_sequence(as_pat, pat_checklist, carol):
    link = make_link(as_pat)
    before = events(fetch(link["url"]))
    case_cancel(case=pat_checklist.case, by=carol)
    after = events(fetch(link["url"]))
    assert set(after) == set(before)
    for uid, event in after.items():
        assert str(event["status"]) == "CANCELLED", uid
        assert int(event["sequence"]) > int(before[uid]["sequence"])


def test_a_new_link_stops_the_old_one_and_a_wrong_one_gets_404(as_pat, pat_checklist):
    old = make_link(as_pat)
    assert fetch(old["url"]).status_code == 200
    new = make_link(as_pat)
    assert new["url"] != old["url"]
    assert fetch(old["url"]).status_code == 404
    assert fetch(new["url"]).status_code == 200
    assert Client().get("/api/v1/calendar/not-a-real-secret.ics").status_code == 404
    assert Client().get("/api/v1/calendar/" + "A" * 43 + ".ics").status_code == 404
    # Turned off: no address works, and the patient sees there is none.
    assert as_pat.delete("/api/v1/me/calendar-feed/").status_code == 204
    assert fetch(new["url"]).status_code == 404
    assert as_pat.get("/api/v1/me/calendar-feed/").json()["active"] is False


def test_only_a_hash_of_the_secret_is_kept(as_pat, pat):
    link = make_link(as_pat)
    token = link["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43
    feed = CalendarFeed.objects.get(patient=pat)
    assert token not in feed.token_hash and feed.token_hash != token
    # The patient's state of the link never shows the address again.
    state = as_pat.get("/api/v1/me/calendar-feed/").json()
    assert state["active"] is True and token not in str(state)


def test_the_private_choice_leaves_only_surgery_preparation_step_on_every_event(as_pat, pat_checklist):
    link = make_link(as_pat, detail="private")
    found = events(fetch(link["url"]))
    assert {str(e["summary"]) for e in found.values()} == {"Surgery preparation step"}
    body = fetch(link["url"]).content.decode()
    assert "Stop smoking" not in body and "lumbar" not in body.lower() and "Pat" not in body
    # Changed back to titles: the same address now shows the steps' names.
    assert as_pat.patch("/api/v1/me/calendar-feed/", {"detail": "titles"}, format="json").status_code == 200
    titles = {str(e["summary"]) for e in events(fetch(link["url"])).values()}
    assert any("smoking" in t.lower() for t in titles)
    # Even with titles, no health fact beyond a step's title: no procedure, no surgeon, no name.
    assert "lumbar" not in fetch(link["url"]).content.decode().lower()


def test_a_bad_choice_is_refused_naming_the_field(as_pat):
    response = as_pat.post("/api/v1/me/calendar-feed/", {"detail": "everything"}, format="json")
    assert response.status_code == 400 and "detail" in response.json()
    assert as_pat.patch("/api/v1/me/calendar-feed/", {"detail": "titles"}, format="json").status_code == 404
    make_link(as_pat)
    response = as_pat.patch("/api/v1/me/calendar-feed/", {"detail": ""}, format="json")
    assert response.status_code == 400 and "detail" in response.json()


def test_in_spanish(as_paul, paul, protocol_version, carol):
    case = case_book(patient=paul, procedure="Fusión lumbar", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    link = make_link(as_paul)
    titles = {str(e["summary"]) for e in events(fetch(link["url"])).values()}
    assert "Cirugía" in titles
    assert "Surgery" not in titles
    private = make_link(as_paul, detail="private")
    assert {str(e["summary"]) for e in events(fetch(private["url"])).values()} == {"Paso de preparación para la cirugía"}


def test_each_secret_gives_its_own_patient_only(as_pat, as_paul, pat_checklist, paul, protocol_version, carol):
    paul_case = case_book(patient=paul, procedure="Fusión lumbar", surgery_date=days_from_today(60))
    checklist_assign(case=paul_case, protocol_version=protocol_version, assigned_by=carol)
    pats = events(fetch(make_link(as_pat)["url"]))
    pauls = events(fetch(make_link(as_paul)["url"]))
    assert f"surgery-{pat_checklist.case.pk}" in pats and f"surgery-{paul_case.pk}" not in pats
    assert f"surgery-{paul_case.pk}" in pauls and f"surgery-{pat_checklist.case.pk}" not in pauls
    pat_tasks = {f"task-{pk}" for pk in Task.objects.filter(checklist=pat_checklist).values_list("pk", flat=True)}
    assert not pat_tasks & set(pauls)


def test_the_fetch_ignores_sessions_is_never_kept_by_shared_caches_and_is_throttled(as_pat, pat_checklist, settings):
    link = make_link(as_pat)
    response = fetch(link["url"])
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    # Staff and other patients' sessions change nothing: the address alone decides.
    assert as_pat.get(path_of(link["url"])).status_code == 200
    throttled = [Client().get("/api/v1/calendar/guess-%d.ics" % n).status_code for n in range(40)]
    assert 429 in throttled


def test_only_patients_manage_a_link_and_an_archived_patient_s_feed_stops(as_carol, as_olga, as_pat, pat, carol):
    for client in (as_carol, as_olga):
        assert client.get("/api/v1/me/calendar-feed/").status_code == 403
        assert client.post("/api/v1/me/calendar-feed/", {}, format="json").status_code == 403
        assert client.delete("/api/v1/me/calendar-feed/").status_code == 403
    link = make_link(as_pat)
    assert fetch(link["url"]).status_code == 200  # no surgery yet: an empty calendar, not an error
    patient_set_status(patient=pat, status=Patient.Status.ARCHIVED, by=carol)
    assert fetch(link["url"]).status_code == 404


def test_the_data_export_holds_the_feed_choice_but_not_its_secret(as_pat):
    link = make_link(as_pat, detail="private")
    export = as_pat.get("/api/v1/me/export/")
    body = b"".join(export.streaming_content) if export.streaming else export.content
    data = json.loads(body)
    assert data["calendar_feeds"][0]["detail"] == "private"
    assert link["url"].rsplit("/", 1)[1].removesuffix(".ics") not in body.decode()
