"""The reminder endpoints, with the named people: pat and paul (patients), carol (pat's
coordinator), olga (another clinic's coordinator, who must get 404)."""

import base64
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from prepapp.models import AuditEntry
from prepapp.reminders.models import DeliveryAttempt, InboxMessage, PushSubscription, Reminder

from .support.push_service import PushService

pytestmark = pytest.mark.django_db


@pytest.fixture
def pat_inbox(pat, pat_checklist):
    tasks = list(pat_checklist.tasks.all()[:3])
    return [
        InboxMessage.objects.create(patient=pat, task=task, title=f"Reminder {i}", body="Body") for i, task in enumerate(tasks)
    ]


# --- Inbox ---------------------------------------------------------------------------------


def test_patient_lists_reads_and_counts_their_inbox(as_pat, pat_inbox):
    listing = as_pat.get("/api/v1/me/inbox/").json()
    assert listing["count"] == 3
    first = listing["results"][0]
    assert first["url"] == f"/tasks/{first['task']}/" and first["unread"] is True
    assert as_pat.get("/api/v1/me/inbox/unread-count/").json() == {"unread": 3}
    read = as_pat.post(f"/api/v1/me/inbox/{pat_inbox[0].id}/read/")
    assert read.status_code == 200 and read.json()["read_at"] and read.json()["unread"] is False
    first_read_at = read.json()["read_at"]
    assert as_pat.post(f"/api/v1/me/inbox/{pat_inbox[0].id}/read/").json()["read_at"] == first_read_at
    assert as_pat.get("/api/v1/me/inbox/unread-count/").json() == {"unread": 2}
    assert as_pat.get("/api/v1/me/inbox/?unread=1").json()["count"] == 2
    assert as_pat.post("/api/v1/me/inbox/read-all/").json() == {"marked": 2, "unread": 0}


def test_another_patient_cannot_see_or_mark_pats_messages(as_paul, pat_inbox):
    assert as_paul.get("/api/v1/me/inbox/").json()["count"] == 0
    assert as_paul.post(f"/api/v1/me/inbox/{pat_inbox[0].id}/read/").status_code == 404
    assert as_paul.post("/api/v1/me/inbox/read-all/").json()["marked"] == 0
    assert InboxMessage.objects.filter(read_at__isnull=False).count() == 0


def test_staff_have_no_inbox(as_carol, pat_inbox):
    assert as_carol.get("/api/v1/me/inbox/").status_code == 403
    assert as_carol.get("/api/v1/me/inbox/unread-count/").status_code == 403


# --- Push subscriptions ------------------------------------------------------------------


@pytest.fixture
def loopback_push(settings):
    settings.WEBPUSH_ALLOW_HTTP = True
    settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    service = PushService()  # not started: only its fake browsers' keys are needed here
    yield service
    service.server.server_close()


def test_subscribe_is_idempotent_on_the_endpoint(as_pat, pat, loopback_push):
    browser = loopback_push.browser()
    body = browser.subscription_json()
    created = as_pat.post("/api/v1/me/push-subscriptions/", body, format="json", HTTP_USER_AGENT="Phone/1.0")
    assert created.status_code == 201, created.content
    again = as_pat.post("/api/v1/me/push-subscriptions/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    sub = PushSubscription.objects.get()
    assert sub.patient == pat and sub.user_agent == "Phone/1.0" and sub.p256dh == browser.p256dh
    listing = as_pat.get("/api/v1/me/push-subscriptions/").json()
    assert [s["endpoint"] for s in listing] == [browser.endpoint]
    assert "keys" not in listing[0]


def test_subscriptions_are_the_patients_own(as_pat, as_paul, pat, loopback_push):
    browser = loopback_push.browser()
    sub_id = as_pat.post("/api/v1/me/push-subscriptions/", browser.subscription_json(), format="json").json()["id"]
    assert as_paul.get("/api/v1/me/push-subscriptions/").json() == []
    assert as_paul.get(f"/api/v1/me/push-subscriptions/{sub_id}/").status_code == 404
    assert as_paul.delete(f"/api/v1/me/push-subscriptions/{sub_id}/").status_code == 404
    assert as_paul.delete("/api/v1/me/push-subscriptions/", {"endpoint": browser.endpoint}, format="json").status_code == 404
    assert PushSubscription.objects.filter(id=sub_id).exists()
    assert as_pat.delete(f"/api/v1/me/push-subscriptions/{sub_id}/").status_code == 204
    assert not PushSubscription.objects.exists()


def test_unsubscribe_by_endpoint(as_pat, loopback_push):
    browser = loopback_push.browser()
    as_pat.post("/api/v1/me/push-subscriptions/", browser.subscription_json(), format="json")
    assert as_pat.delete("/api/v1/me/push-subscriptions/", {"endpoint": browser.endpoint}, format="json").status_code == 204
    assert not PushSubscription.objects.exists()


def test_bad_subscriptions_are_refused_naming_the_field(as_pat, loopback_push, settings):
    browser = loopback_push.browser()
    good = browser.subscription_json()
    bad_key = {**good, "keys": {"p256dh": base64.urlsafe_b64encode(b"x" * 65).decode(), "auth": good["keys"]["auth"]}}
    r = as_pat.post("/api/v1/me/push-subscriptions/", bad_key, format="json")
    assert r.status_code == 400 and "p256dh" in r.json()["keys"]
    bad_auth = {**good, "keys": {"p256dh": good["keys"]["p256dh"], "auth": "c2hvcnQ"}}
    r = as_pat.post("/api/v1/me/push-subscriptions/", bad_auth, format="json")
    assert r.status_code == 400 and "auth" in r.json()["keys"]
    settings.WEBPUSH_ENDPOINT_HOSTS = [".googleapis.com"]
    r = as_pat.post("/api/v1/me/push-subscriptions/", good, format="json")
    assert r.status_code == 400 and "endpoint" in r.json()
    assert not PushSubscription.objects.exists()


def test_staff_cannot_subscribe(as_carol, loopback_push):
    r = as_carol.post("/api/v1/me/push-subscriptions/", loopback_push.browser().subscription_json(), format="json")
    assert r.status_code == 403


def test_public_key_only_when_configured(as_pat, settings):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    assert as_pat.get("/api/v1/me/push/public-key/").status_code == 404
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPUBLIC", "private"
    r = as_pat.get("/api/v1/me/push/public-key/")
    assert r.status_code == 200 and r.json() == {"public_key": "BPUBLIC"}


# --- Delivery log ------------------------------------------------------------------------


@pytest.fixture
def pat_deliveries(pat, pat_checklist):
    reminder = Reminder.objects.filter(patient=pat).first()
    Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.FAILED, attempts=5, last_error="500 x5")
    now = timezone.now()
    DeliveryAttempt.objects.create(reminder=reminder, patient=pat, channel=reminder.channel, outcome="retry",
                                   detail="subscription 1: 500", at=now)
    DeliveryAttempt.objects.create(reminder=reminder, patient=pat, channel=reminder.channel, outcome="failed",
                                   detail="gave up", at=now)
    return reminder


def test_coordinator_sees_the_delivery_log_and_it_is_audited(as_carol, carol, pat, pat_deliveries):
    r = as_carol.get(f"/api/v1/patients/{pat.pk}/deliveries/")
    assert r.status_code == 200
    data = r.json()
    assert data["count"] == 2 and data["patient"]["id"] == pat.pk
    assert data["reminders"]["failed"] == 1 and data["reminders"]["pending"] > 0
    entry = data["results"][0]
    assert entry["outcome"] == "failed" and entry["reminder"]["status"] == "failed"
    assert entry["reminder"]["task_title"] and entry["reminder"]["last_error"] == "500 x5"
    assert as_carol.get(f"/api/v1/patients/{pat.pk}/deliveries/?outcome=retry").json()["count"] == 1
    assert AuditEntry.objects.filter(actor=carol, patient=pat, action="read-deliveries").count() == 2


def test_the_outsider_and_patients_get_no_delivery_log(as_olga, as_pat, as_paul, pat, pat_deliveries):
    assert as_olga.get(f"/api/v1/patients/{pat.pk}/deliveries/").status_code == 404
    assert as_pat.get(f"/api/v1/patients/{pat.pk}/deliveries/").status_code == 403
    assert as_paul.get(f"/api/v1/patients/{pat.pk}/deliveries/").status_code == 403
    assert not AuditEntry.objects.filter(action="read-deliveries").exists()


# --- VAPID keys -------------------------------------------------------------------------


def test_generate_vapid_keys_prints_a_working_pair():
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid

    out = StringIO()
    call_command("generate_vapid_keys", stdout=out, stderr=StringIO())
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    vapid = Vapid.from_string(lines["VAPID_PRIVATE_KEY"])
    public = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert base64.urlsafe_b64encode(public).rstrip(b"=").decode() == lines["VAPID_PUBLIC_KEY"]
    # A second run gives a different pair: nothing is stored or reused.
    again = StringIO()
    call_command("generate_vapid_keys", stdout=again, stderr=StringIO())
    assert again.getvalue() != out.getvalue()


def test_another_patients_push_endpoint_is_refused_without_saying_so(as_pat, as_paul, pat, paul, loopback_push):
    pats_phone = loopback_push.browser().subscription_json()
    assert as_pat.post("/api/v1/me/push-subscriptions/", pats_phone, format="json").status_code == 201
    fresh_phone = loopback_push.browser().subscription_json()
    as_new = as_paul.post("/api/v1/me/push-subscriptions/", fresh_phone, format="json")
    taken = as_paul.post("/api/v1/me/push-subscriptions/", {**pats_phone, "keys": fresh_phone["keys"]}, format="json")
    assert taken.status_code == as_new.status_code == 201
    assert set(taken.json()) == set(as_new.json())
    assert PushSubscription.objects.get(endpoint=pats_phone["endpoint"]).patient == pat
    assert pats_phone["endpoint"] not in {s["endpoint"] for s in as_paul.get("/api/v1/me/push-subscriptions/").json()}
