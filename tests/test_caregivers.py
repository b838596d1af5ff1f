"""Caregivers: invited by the patient (or by the care team with consent noted), their own sign-in, revoked at once.

- ana: Pat's daughter, invited by Pat, may see and tick off steps
- the same account may follow another patient (Paul), with a link of its own
"""

import json
import re
from datetime import time, timedelta

import pytest
from django.test import Client
from rest_framework.test import APIClient

from checklists.models import Task
from prepapp.caregivers import caregiver_invite, caregiver_revoke
from prepapp.models import AuditEntry, CaregiverLink, CaregiverSettings, CaregiverSignInLink
from prepapp.reminders import escalation

from .conftest import client_for
from .support.outbox import deliver_all

OWN_PAGE = {"HTTP_ORIGIN": "http://testserver"}


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"


def token_in(message) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000/signin/#([A-Za-z0-9_-]+)\s", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def sign_in(token) -> Client:
    client = Client(**OWN_PAGE)
    response = client.post("/api/v1/auth/sign-in-link/redeem/", {"token": token}, content_type="application/json")
    assert response.status_code == 200, response.content
    return client


@pytest.fixture
def ana(pat, pat_checklist, email_to_sink, site_url):
    """Pat's daughter, invited from Pat's app, signed in with her own link."""
    response = client_for(pat.user).post("/api/v1/me/caregivers/", {
        "name": "Ana", "relationship": "daughter", "email": "ana@example.org", "language": "es",
        "access": "see_and_tick",
    }, format="json")
    assert response.status_code == 201, response.content
    link = CaregiverLink.objects.get(pk=response.json()["id"])
    link.client = sign_in(token_in(email_to_sink.received()[-1]))
    return link


def test_the_patient_invites_and_the_caregiver_gets_an_account_of_her_own(ana, pat, email_to_sink):
    message = email_to_sink.received()[-1]
    assert message["To"] == "ana@example.org"
    assert "Pat Example" in message["Subject"] and "preparación" in message["Subject"]  # in Ana's language
    assert ana.caregiver_id != pat.user_id and ana.caregiver.username.startswith("caregiver-")
    assert ana.accepted_at is None and CaregiverLink.objects.get(pk=ana.pk).accepted_at is not None
    following = ana.client.get("/api/v1/following/").json()
    assert [(f["patient_name"], f["relationship"], f["can_tick"]) for f in following] == [
        ("Pat Example", "daughter", True)
    ]
    # Only the hash of the token is kept, and it signs in once.
    assert CaregiverSignInLink.objects.filter(link=ana).count() == 1


def test_a_link_signs_in_once(pat, pat_checklist, email_to_sink, site_url):
    client_for(pat.user).post("/api/v1/me/caregivers/", {
        "name": "Ana", "relationship": "daughter", "email": "ana@example.org"}, format="json")
    token = token_in(email_to_sink.received()[-1])
    sign_in(token)
    again = Client(**OWN_PAGE).post("/api/v1/auth/sign-in-link/redeem/", {"token": token},
                                    content_type="application/json")
    assert again.status_code == 400 and list(again.json()) == ["token"]


def test_the_caregiver_is_not_the_patient(ana):
    # Pat's own endpoints refuse her: she reads as herself, never as Pat.
    me = ana.client.get("/api/v1/me/").json()
    assert me["kind"] == "caregiver" and "patient" not in me and me["following"][0]["id"] == ana.pk
    assert ana.client.patch("/api/v1/me/", {"language": "en"}, content_type="application/json").status_code == 403
    for url in ("/api/v1/me/checklist/", "/api/v1/me/safety/", "/api/v1/me/caregivers/",
                "/api/v1/me/export/", "/api/v1/me/access-log/"):
        assert ana.client.get(url).status_code == 403, url


def test_she_sees_the_plan_without_health_facts_unless_allowed(ana, pat, pat_checklist):
    task = pat_checklist.tasks.first()
    Task.objects.filter(pk=task.pk).update(note="PAT-PRIVATE-NOTE")
    checklist = ana.client.get(f"/api/v1/following/{ana.pk}/checklist/")
    assert checklist.status_code == 200
    assert checklist.json()["counts"]["total"] == pat_checklist.tasks.count()
    assert b"PAT-PRIVATE-NOTE" not in checklist.content
    client_for(pat.user).patch(f"/api/v1/me/caregivers/{ana.pk}/", {"sees_health_facts": True}, format="json")
    assert b"PAT-PRIVATE-NOTE" in ana.client.get(f"/api/v1/following/{ana.pk}/checklist/").content
    safety = ana.client.get(f"/api/v1/following/{ana.pk}/safety/")
    assert safety.status_code == 200 and "care_team" in safety.json()


def test_her_tick_shows_her_name_and_is_audited(ana, pat, pat_checklist):
    task = pat_checklist.tasks.order_by("due_date").first()
    response = ana.client.post(f"/api/v1/following/{ana.pk}/tasks/{task.pk}/complete/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done" and response.json()["ticked_off_by"] == "Ana (daughter)"
    task.refresh_from_db()
    assert task.completed_by_id == ana.caregiver_id
    # Pat sees who ticked it, on the step and in the whole checklist.
    assert client_for(pat.user).get(f"/api/v1/me/tasks/{task.pk}/").json()["ticked_off_by"] == "Ana (daughter)"
    assert AuditEntry.objects.filter(actor=ana.caregiver, patient=pat, action="caregiver-tick").exists()
    reopened = ana.client.post(f"/api/v1/following/{ana.pk}/tasks/{task.pk}/reopen/")
    assert reopened.json()["status"] == "open" and reopened.json()["ticked_off_by"] is None


def test_a_caregiver_who_may_only_see_cannot_tick(ana, pat, pat_checklist):
    client_for(pat.user).patch(f"/api/v1/me/caregivers/{ana.pk}/", {"access": "see"}, format="json")
    task = pat_checklist.tasks.first()
    response = ana.client.post(f"/api/v1/following/{ana.pk}/tasks/{task.pk}/complete/")
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == Task.Status.OPEN


def test_her_reads_are_in_pats_access_log_with_her_name(ana, pat):
    ana.client.get(f"/api/v1/following/{ana.pk}/checklist/")
    rows = client_for(pat.user).get("/api/v1/me/access-log/").json()["results"]
    read = next(r for r in rows if r["action"] == "caregiver-read")
    assert read["who"]["name"] == "Ana" and read["who"]["role"] == "daughter"


def test_one_account_follows_two_patients(ana, pat, paul, carol, email_to_sink):
    response = client_for(carol).post(f"/api/v1/patients/{paul.pk}/caregivers/", {
        "name": "Ana", "relationship": "niece", "email": "ANA@example.org", "consent_note": "asked at the visit",
    }, format="json")
    assert response.status_code == 201, response.content
    second = CaregiverLink.objects.get(pk=response.json()["id"])
    assert second.caregiver_id == ana.caregiver_id and second.consent_note == "asked at the visit"
    names = sorted(f["patient_name"] for f in ana.client.get("/api/v1/following/").json())
    assert names == ["Pat Example", "Paul Other"]


def test_a_coordinator_must_note_consent(pat, carol, email_to_sink, site_url):
    response = client_for(carol).post(f"/api/v1/patients/{pat.pk}/caregivers/", {
        "name": "Ana", "relationship": "daughter", "email": "ana@example.org"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["consent_note"]
    assert not CaregiverLink.objects.exists() and email_to_sink.received() == []


def test_bad_input_names_the_field(pat):
    as_pat = client_for(pat.user)
    for body, field in (({"name": "Ana", "relationship": "daughter", "email": "nope"}, "email"),
                        ({"name": "Ana", "relationship": "daughter", "email": "pat@example.org"}, "email"),
                        ({"name": "Ana", "email": "a@example.org"}, "relationship"),
                        ({"name": "Ana", "relationship": "d", "email": "a@example.org", "access": "all"}, "access")):
        response = as_pat.post("/api/v1/me/caregivers/", body, format="json")
        assert response.status_code == 400 and field in response.json(), (body, response.content)
    assert not CaregiverLink.objects.exists()


def test_a_refused_email_invites_nobody(pat, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens there
    response = client_for(pat.user).post("/api/v1/me/caregivers/", {
        "name": "Ana", "relationship": "daughter", "email": "ana@example.org"}, format="json")
    assert response.status_code == 503
    assert not CaregiverLink.objects.exists() and not AuditEntry.objects.filter(action="caregiver-invite").exists()


def test_revoking_ends_her_sessions_at_once(ana, pat, pat_checklist):
    assert ana.client.get(f"/api/v1/following/{ana.pk}/checklist/").status_code == 200
    response = client_for(pat.user).delete(f"/api/v1/me/caregivers/{ana.pk}/")
    assert response.status_code == 200 and response.json()["live"] is False
    # Her session is gone: she is anonymous now, and gets nothing.
    assert ana.client.get("/api/v1/following/").status_code in (401, 403)
    assert ana.client.get(f"/api/v1/following/{ana.pk}/checklist/").status_code in (401, 403)
    # Even signed in again by other means, a revoked caregiver follows no one.
    again = APIClient()
    again.force_authenticate(ana.caregiver)
    assert again.get("/api/v1/following/").status_code == 403
    assert AuditEntry.objects.filter(patient=pat, action="caregiver-revoke").exists()
    # Pat still sees her, as no longer following.
    listed = client_for(pat.user).get("/api/v1/me/caregivers/").json()
    assert [(c["name"], c["live"]) for c in listed] == [("Ana", False)]


def test_the_coordinator_sees_the_caregivers_and_what_each_may_do(ana, pat, carol):
    response = client_for(carol).get(f"/api/v1/patients/{pat.pk}/caregivers/")
    assert response.status_code == 200
    assert [(c["name"], c["relationship"], c["access"], c["invited_by_patient"]) for c in response.json()] == [
        ("Ana", "daughter", "see_and_tick", True)
    ]
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="read-caregivers").exists()


# --- Who gets nothing ------------------------------------------------------------------------


def test_a_caregiver_of_pat_gets_nothing_of_paul(ana, paul):
    # Paul's link ids and tasks do not open through Ana's account.
    paul_link = caregiver_invite(patient=paul, invited_by=paul.user, name="Bo", relationship="son",
                                 email="bo@example.org")
    for url in (f"/api/v1/following/{paul_link.pk}/checklist/", f"/api/v1/following/{paul_link.pk}/safety/"):
        assert ana.client.get(url).status_code == 404, url
    paul_task_id = Task.objects.filter(checklist__case__patient=paul).values_list("id", flat=True).first() or 1
    assert ana.client.post(f"/api/v1/following/{ana.pk}/tasks/{paul_task_id}/complete/").status_code == 404
    assert ana.client.post(f"/api/v1/following/{ana.pk}/tasks/999999/complete/").status_code == 404


def test_another_organizations_staff_cannot_see_or_invite(ana, pat, olga, email_to_sink):
    as_olga = client_for(olga)
    assert as_olga.get(f"/api/v1/patients/{pat.pk}/caregivers/").status_code == 404
    response = as_olga.post(f"/api/v1/patients/{pat.pk}/caregivers/", {
        "name": "X", "relationship": "y", "email": "x@example.org", "consent_note": "n"}, format="json")
    assert response.status_code == 404
    assert CaregiverLink.objects.filter(patient=pat).count() == 1


def test_other_patients_cannot_touch_pats_caregivers(ana, paul):
    as_paul = client_for(paul.user)
    assert as_paul.patch(f"/api/v1/me/caregivers/{ana.pk}/", {"access": "see"}, format="json").status_code == 404
    assert as_paul.delete(f"/api/v1/me/caregivers/{ana.pk}/").status_code == 404
    assert as_paul.get("/api/v1/me/caregivers/").json() == []
    assert CaregiverLink.objects.get(pk=ana.pk).revoked_at is None


def test_patients_and_staff_follow_no_one(pat, carol):
    assert client_for(pat.user).get("/api/v1/following/").status_code == 403
    assert client_for(carol).get("/api/v1/following/").status_code == 403


def test_revoke_service_is_idempotent(ana, pat):
    first = caregiver_revoke(link=ana, revoked_by=pat.user)
    again = caregiver_revoke(link=ana, revoked_by=pat.user)
    assert first.revoked_at == again.revoked_at
    assert AuditEntry.objects.filter(action="caregiver-revoke").count() == 1


def test_the_patients_data_export_lists_their_caregivers(ana, pat):
    caregiver_revoke(link=ana, revoked_by=pat.user)
    exported = client_for(pat.user).get("/api/v1/me/export/")
    caregivers = json.loads(b"".join(exported.streaming_content) if exported.streaming else exported.content)[
        "caregivers"]
    assert [(c["name"], c["relationship"], c["access"], c["revoked_at"] is not None) for c in caregivers] == [
        ("Ana", "daughter", "see_and_tick", True)
    ]


# --- Told when a critical step is overdue ------------------------------------------------------


def test_caregivers_who_get_reminders_are_told_of_an_overdue_critical_step_in_their_language(
    ana, pat, email_to_sink, settings, django_capture_on_commit_callbacks
):
    from_before = len(email_to_sink.received())
    quiet = caregiver_invite(patient=pat, invited_by=pat.user, name="Luis", relationship="son",
                             email="luis@example.org", gets_reminders=False)
    revoked = caregiver_invite(patient=pat, invited_by=pat.user, name="Rita", relationship="neighbour",
                               email="rita@example.org")
    caregiver_revoke(link=revoked, revoked_by=pat.user)
    mail_before = len(email_to_sink.received())
    assert mail_before == from_before + 2  # the two invitations
    # The test runs at any hour: Ana's own quiet hours off (they are hers, not Pat's: see test_caregiver_reminders).
    CaregiverSettings.objects.filter(user=ana.caregiver).update(quiet_hours_start=time(0), quiet_hours_end=time(0))
    task = Task.objects.get(checklist__case__patient=pat, definition__key="stop-nsaids")
    Task.objects.filter(pk=task.pk).update(due_date=pat.local_today() - timedelta(days=2), window_start=None)
    escalation.escalate()
    deliver_all(django_capture_on_commit_callbacks)
    told = email_to_sink.received()[mail_before:]
    assert [m["To"] for m in told] == ["ana@example.org"]  # not Luis (no reminders), not Rita (revoked)
    body = told[0].get_body(("plain",)).get_content()
    assert "Pat" in told[0]["Subject"] and "paso importante" in told[0]["Subject"]  # Ana reads Spanish
    assert "hace 2 días" in body
    # Once: the next tick raises nothing new, so tells nobody again.
    escalation.escalate()
    deliver_all(django_capture_on_commit_callbacks)
    to_caregivers = [m for m in email_to_sink.received()[mail_before:] if m["To"] != "pat@example.org"]
    assert len(to_caregivers) == 1
    assert quiet.pk  # Luis still follows, he only asked for no reminders


def test_the_coordinators_page_lists_the_caregivers_and_what_each_may_do(ana, pat, carol, olga, client):
    client.force_login(carol)
    page = client.get(f"/coordinator/patients/{pat.pk}/").content.decode()
    assert "<strong>Ana</strong> (daughter)" in page and "Can see and tick off steps" in page
    assert 'data-action="invite-caregiver"' in page
    client.force_login(olga)
    assert client.get(f"/coordinator/patients/{pat.pk}/").status_code == 404


def test_her_session_lasts_as_a_patients_does(ana, settings):
    session = ana.client.session
    assert session["prepapp_session_kind"] == "caregiver"
    assert session.get_expiry_age() == settings.PATIENT_SESSION_IDLE_DAYS * 24 * 3600
