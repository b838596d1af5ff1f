"""Push, then email: the fallback in this process; read receipts from a notification and an email link.

Real PostgreSQL, the real SMTP sink and the Web Push stand-in. The fallback through real
worker processes is in test_reminder_worker.py.
"""

import time as clock
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from prepapp.reminders import compose, outbox, receipts
from prepapp.reminders.models import DeliveryAttempt, PushSubscription, Reminder

from .conftest import client_for
from .support.fixtures import subscribe
from .support.outbox import deliver_until_quiet, make_due, no_quiet_hours

pytestmark = pytest.mark.django_db
EMAIL, PUSH = Reminder.Channel.EMAIL, Reminder.Channel.PUSH


@pytest.fixture
def due_pat(pat, pat_checklist):
    no_quiet_hours(pat)
    return pat


def log_of(row):
    return [a.outcome for a in DeliveryAttempt.objects.filter(reminder=row).order_by("at", "id")]


# --- Fallback -----------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [410, 500])
def test_push_that_does_not_reach_the_patient_becomes_an_email_at_once(
    due_pat, push_configured, email_to_sink, answer, django_capture_on_commit_callbacks
):
    phone = subscribe(due_pat, push_configured)
    push_configured.answer(phone, answer)
    [push] = make_due(due_pat, channels=[PUSH], limit=1)
    deliver_until_quiet(django_capture_on_commit_callbacks)
    push.refresh_from_db()
    # One push attempt, no hours of retries: the email goes in the same run.
    assert push.attempts <= 1 and push.status in ("failed", "skipped")
    assert log_of(push)[-1] == "fallback"
    email = Reminder.objects.get(channel=EMAIL, task=push.task, rule=push.rule, anchor_date=push.anchor_date)
    assert email.fallback and email.status == "sent"
    assert email_to_sink.count_by_reminder() == {email.id: 1}
    assert PushSubscription.objects.filter(endpoint=phone.endpoint).exists() == (answer == 500)
    # The coordinator's delivery log shows the whole story, newest first.
    carol_log = client_for(due_pat.organization.memberships.get().user).get(
        f"/api/v1/patients/{due_pat.id}/deliveries/"
    ).json()["results"]
    assert [(e["channel"], e["outcome"]) for e in carol_log][:3] == [
        ("email", "sent"), ("push", "fallback"), ("push", log_of(push)[0])
    ]
    assert carol_log[0]["reminder"]["fallback"] is True
    # And so does the patient's own.
    mine = client_for(due_pat.user).get("/api/v1/me/deliveries/").json()["results"]
    assert [(e["channel"], e["outcome"]) for e in mine][:2] == [("email", "sent"), ("push", "fallback")]


def test_no_subscription_at_all_means_email(due_pat, push_configured, email_to_sink, django_capture_on_commit_callbacks):
    [push] = make_due(due_pat, channels=[PUSH], limit=1)
    deliver_until_quiet(django_capture_on_commit_callbacks)
    push.refresh_from_db()
    assert push.status == "skipped" and "no push subscription" in push.last_error
    assert len(email_to_sink.received()) == 1


def test_the_fallback_never_makes_a_second_email(due_pat, push_configured, email_to_sink, django_capture_on_commit_callbacks):
    [push] = make_due(due_pat, channels=[PUSH], limit=1)
    deliver_until_quiet(django_capture_on_commit_callbacks)
    assert outbox.fallback_to_email(reminder_ids=[push.id]) == 0  # asked again: the email exists
    assert Reminder.objects.filter(channel=EMAIL).count() == 1


def test_a_push_that_got_through_sends_no_email(due_pat, push_configured, email_to_sink, django_capture_on_commit_callbacks):
    phone = subscribe(due_pat, push_configured)
    make_due(due_pat, channels=[PUSH], limit=2)
    deliver_until_quiet(django_capture_on_commit_callbacks)
    assert len(phone.received) == 2
    assert email_to_sink.received() == [] and not Reminder.objects.filter(channel=EMAIL).exists()
    # The message carries its receipt token for the service worker.
    assert all(isinstance(p.get("receipt"), str) and p["receipt"] for p in phone.received)


def test_a_policy_change_that_cancelled_the_email_is_undone_by_the_fallback(
    due_pat, push_configured, email_to_sink, django_capture_on_commit_callbacks
):
    [push, email] = make_due(due_pat, channels=[PUSH, EMAIL], limit=2)
    Reminder.objects.filter(pk=email.pk).update(status="cancelled", last_error="plan changed")
    deliver_until_quiet(django_capture_on_commit_callbacks)
    email.refresh_from_db()
    assert email.status == "sent" and email.fallback


# --- Receipts -----------------------------------------------------------------------------


@pytest.fixture
def sent_row(due_pat):
    [row] = make_due(due_pat, channels=[PUSH], limit=1)
    Reminder.objects.filter(pk=row.pk).update(status="sent", sent_at=timezone.now())
    return row


def old_token(row, days):
    signer = signing.TimestampSigner(salt=receipts.SALT)
    signer.timestamp = lambda: signing.b62_encode(int(clock.time()) - days * 86400)
    return signer.sign_object({"r": row.id, "p": row.patient_id}, compress=True)


def test_opening_a_notification_posts_its_receipt(sent_row, client):
    token = compose.compose(sent_row).receipt
    response = client.post("/api/v1/receipts/", {"token": token}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["first_time"] is True
    sent_row.refresh_from_db()
    first = sent_row.read_at
    assert first is not None
    # Opening it again keeps the first time.
    again = client.post("/api/v1/receipts/", {"token": token}, content_type="application/json")
    assert again.json()["first_time"] is False
    sent_row.refresh_from_db()
    assert sent_row.read_at == first


def test_a_tampered_or_expired_receipt_is_refused(sent_row, client, settings):
    token = compose.compose(sent_row).receipt
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad, words in [(tampered, "not valid"), (old_token(sent_row, days=31), "expired"), ("nonsense", "not valid")]:
        response = client.post("/api/v1/receipts/", {"token": bad}, content_type="application/json")
        assert response.status_code == 400 and words in response.json()["token"][0], (bad, response.content)
    assert client.post("/api/v1/receipts/", {}, content_type="application/json").json().keys() == {"token"}
    sent_row.refresh_from_db()
    assert sent_row.read_at is None
    # Within its age it still counts.
    assert client.post("/api/v1/receipts/", {"token": old_token(sent_row, days=29)},
                       content_type="application/json").status_code == 200


def test_another_patients_receipt_is_not_theirs_to_post(sent_row, as_paul, as_carol):
    token = compose.compose(sent_row).receipt
    assert as_paul.post("/api/v1/receipts/", {"token": token}, format="json").status_code == 404
    assert as_carol.post("/api/v1/receipts/", {"token": token}, format="json").status_code == 404
    sent_row.refresh_from_db()
    assert sent_row.read_at is None


def test_an_email_link_marks_it_read_and_opens_the_step(sent_row, client, paul, pat):
    message = compose.compose(sent_row)
    link = message.link(sent_row.task_id)
    assert link.startswith("/r/") and link.endswith(f"?to={sent_row.task_id}")
    # Another patient signed in on this browser: refused, nothing marked.
    client.force_login(paul.user)
    assert client.get(link).status_code == 404
    sent_row.refresh_from_db()
    assert sent_row.read_at is None
    client.logout()
    # Expired or tampered: the app opens, nothing is marked.
    for bad in (old_token(sent_row, days=31), message.receipt[:-1] + "x"):
        response = client.get(f"/r/{bad}/?to={sent_row.task_id}")
        assert response.status_code == 302 and response["Location"] == "/"
    sent_row.refresh_from_db()
    assert sent_row.read_at is None
    # The patient's own link, signed in or not: marked read, on to the step.
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == f"/tasks/{sent_row.task_id}/"
    sent_row.refresh_from_db()
    assert sent_row.read_at is not None
    # A step id that is not the patient's is ignored (no redirect elsewhere).
    other = paul.id + 10_000
    assert client.get(message.link(other))["Location"] == "/"
    # The coordinator sees the receipt in the delivery log.
    DeliveryAttempt.objects.create(reminder=sent_row, patient=pat, channel=PUSH, outcome="sent")
    log = client_for(pat.organization.memberships.get().user).get(f"/api/v1/patients/{pat.id}/deliveries/").json()
    assert log["results"][0]["reminder"]["read_at"] is not None


def test_reading_the_inbox_message_is_a_receipt_too(due_pat, as_pat, django_capture_on_commit_callbacks):
    [row] = make_due(due_pat, channels=[Reminder.Channel.INAPP], limit=1)
    deliver_until_quiet(django_capture_on_commit_callbacks)
    message = Reminder.objects.get(pk=row.pk).inbox_message
    assert as_pat.post(f"/api/v1/me/inbox/{message.id}/read/").status_code == 200
    row.refresh_from_db()
    assert row.read_at is not None and row.read_at - timezone.now() < timedelta(minutes=1)
