"""A caregiver's account: a new sign-in link by email, and what becomes of it when a patient is erased."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from prepapp.caregivers import caregiver_invite, caregiver_revoke
from prepapp.models import AuditEntry, CaregiverLink, CaregiverSettings, CaregiverSignInLink
from prepapp.reminders.models import CaregiverPushSubscription, FamilyMessage
from prepapp.workflows.data_rights import patient_erase

from .test_caregivers import OWN_PAGE, site_url  # noqa: F401 (a fixture)
from .test_sign_in import ask_for_link, redeem, token_in
from .test_sign_in_limits import wait_for_mail

User = get_user_model()


@pytest.fixture
def ana(pat, pat_checklist, email_to_sink, site_url):  # noqa: F811
    return caregiver_invite(patient=pat, invited_by=pat.user, name="Ana", relationship="daughter",
                            email="ana@example.org", language="es")


# --- A new sign-in link -------------------------------------------------------------------------


def test_a_caregiver_asks_for_a_new_link_and_gets_her_own_session(
    ana, email_to_sink, django_capture_on_commit_callbacks
):
    before = len(email_to_sink.received())
    answer = ask_for_link(APIClient(), "ANA@example.org", django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    message = wait_for_mail(email_to_sink, before + 1)[-1]
    assert message["To"] == "ana@example.org"
    assert message["Subject"] == "Su enlace para iniciar sesión"  # her language
    phone = Client(**OWN_PAGE)
    signed_in = redeem(phone, token_in(message))
    assert signed_in.status_code == 200 and signed_in.json()["kind"] == "caregiver"
    me = phone.get("/api/v1/me/").json()
    assert me["kind"] == "caregiver" and [f["patient_name"] for f in me["following"]] == ["Pat Example"]
    assert redeem(Client(**OWN_PAGE), token_in(message)).status_code == 400  # once


def test_the_answer_is_the_same_for_a_caregiver_a_stranger_and_a_revoked_caregiver(
    ana, pat, email_to_sink, django_capture_on_commit_callbacks
):
    known = ask_for_link(APIClient(), "ana@example.org", django_capture_on_commit_callbacks)
    stranger = ask_for_link(APIClient(), "nobody@example.org", django_capture_on_commit_callbacks)
    assert (known.status_code, known.json().keys()) == (stranger.status_code, stranger.json().keys())
    caregiver_revoke(link=ana, revoked_by=pat.user)
    count = CaregiverSignInLink.objects.count()
    revoked = ask_for_link(APIClient(), "ana@example.org", django_capture_on_commit_callbacks)
    assert revoked.status_code == 202
    assert CaregiverSignInLink.objects.count() == count  # nothing new for someone who follows no one


def test_the_same_hourly_limit_as_a_patients(ana, settings, email_to_sink, django_capture_on_commit_callbacks):
    settings.SIGN_IN_LINK_EMAILS_PER_HOUR = 3
    invitation = CaregiverSignInLink.objects.count()
    for _ in range(5):
        assert ask_for_link(APIClient(), "ana@example.org", django_capture_on_commit_callbacks).status_code == 202
    assert CaregiverSignInLink.objects.count() - invitation == 2  # the invitation counted within the hour


# --- Erasing a patient ------------------------------------------------------------------------


def test_erasing_the_only_patient_she_followed_empties_her_account(ana, pat, carol, push_service):
    account = ana.caregiver
    client = Client(**OWN_PAGE)
    client.force_login(account)
    assert client.get(f"/api/v1/following/{ana.pk}/checklist/").status_code == 200  # an audited read of hers
    FamilyMessage.objects.create(caregiver=ana, title="Pat", body="…")
    browser = push_service.browser()
    CaregiverPushSubscription.objects.create(user=account, endpoint=browser.endpoint, p256dh=browser.p256dh,
                                             auth=browser.auth)
    patient_erase(patient=pat, by=carol)
    account.refresh_from_db()
    assert not account.is_active and account.email == "" and account.username.startswith("erased-caregiver-")
    assert not account.has_usable_password()
    assert not CaregiverLink.objects.filter(caregiver=account).exists()
    assert not CaregiverSettings.objects.filter(user=account).exists()
    assert not CaregiverPushSubscription.objects.exists() and not FamilyMessage.objects.exists()
    assert client.get("/api/v1/me/").status_code in (401, 403)  # her session ended


def test_a_caregiver_the_trail_never_names_is_deleted(ana, pat, carol):
    account_id = ana.caregiver_id
    assert not AuditEntry.objects.filter(actor_id=account_id).exists()
    patient_erase(patient=pat, by=carol)
    assert not User.objects.filter(pk=account_id).exists()


def test_a_caregiver_who_follows_someone_else_keeps_her_account(ana, pat, paul, carol):
    caregiver_invite(patient=paul, invited_by=paul.user, name="Ana", relationship="neighbour",
                     email="ana@example.org")
    patient_erase(patient=pat, by=carol)
    account = User.objects.get(pk=ana.caregiver_id)
    assert account.is_active and account.email == "ana@example.org"
    assert [link.patient_id for link in CaregiverLink.objects.filter(caregiver=account)] == [paul.pk]
    assert CaregiverSettings.objects.filter(user=account).exists()


# --- In the admin -----------------------------------------------------------------------------


def test_a_lead_reading_a_caregiver_in_the_admin_is_an_audited_read_of_the_patient(client, lead_admin, ana, pat):
    from django.urls import reverse

    client.force_login(lead_admin)
    listing = client.get(reverse("admin:prepapp_caregiverlink_changelist"))
    assert listing.status_code == 200 and "Ana" in listing.content.decode()
    assert AuditEntry.objects.filter(action="admin-list", patient=pat, actor=lead_admin).count() == 1
    page = client.get(reverse("admin:prepapp_caregiverlink_change", args=[ana.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "in the app, email" in text and "Español" in text  # her own settings, as she chose them
    assert AuditEntry.objects.filter(action="admin-read", patient=pat, actor=lead_admin).count() == 1
    # Read-only: revoking goes through the service, which ends her sessions.
    assert client.post(reverse("admin:prepapp_caregiverlink_change", args=[ana.pk]),
                       {"access": "see_and_tick"}).status_code == 403
    assert CaregiverLink.objects.get(pk=ana.pk).access == "see"


# --- About the followed patient's surgery ---------------------------------------------------------


def test_she_reads_about_pats_surgery_in_her_own_language_and_the_read_is_audited(ana, pat, paul):
    client = Client(**OWN_PAGE)
    client.force_login(ana.caregiver)
    answer = client.get(f"/api/v1/following/{ana.pk}/about/")
    assert answer.status_code == 200 and answer.json()["pages"], answer.content
    assert answer.json()["language"] == "es"  # Ana's own language, not Pat's English
    assert AuditEntry.objects.filter(actor=ana.caregiver, patient=pat, action="caregiver-read").count() == 1
    theirs = caregiver_invite(patient=paul, invited_by=paul.user, name="Bea", relationship="wife",
                              email="bea@example.org")
    assert client.get(f"/api/v1/following/{theirs.pk}/about/").status_code == 404
    caregiver_revoke(link=ana, revoked_by=pat.user)
    client.force_login(ana.caregiver)
    assert client.get(f"/api/v1/following/{ana.pk}/about/").status_code == 403
