"""Recovering from lost workers and dropped connections without hiding a possible repeat.

A send after a lost claim is marked "possibly sent twice" in the log, the API and the admin;
push repeats replace each other (one Topic and tag per reminder); the delivery tasks retry
themselves on a lost database or broker connection, and the record step retries its own
transaction, and none of that records or sends anything twice.
"""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from prepapp.reminders import delivery, outbox, tasks
from prepapp.reminders.channels import webpush
from prepapp.reminders.models import DeliveryAttempt, Reminder

from .support.fixtures import subscribe
from .support.outbox import make_due, no_quiet_hours

pytestmark = pytest.mark.django_db
INAPP, EMAIL, PUSH = Reminder.Channel.INAPP, Reminder.Channel.EMAIL, Reminder.Channel.PUSH


def claim_all(capture):
    calls = []
    with capture(execute=True):
        outbox.claim_due(limit=10_000, enqueue=lambda c, i, t: calls.append((c, i, t)))
    return calls


def deliver_all(capture):
    return [delivery.deliver_batch(ids=i, token=t, channel=c) for c, i, t in claim_all(capture)]


def lose_the_claim(rows, capture):
    """A sweep claims the rows, its worker vanishes, the lease runs out and a sweep puts them back."""
    claim_all(capture)
    Reminder.objects.filter(id__in=[r.id for r in rows]).update(
        lease_until=timezone.now() - timedelta(hours=1), holder="gone-host:4242"
    )
    assert outbox.reclaim_expired() == (len(rows), 0)


@pytest.fixture
def due_pat(pat, pat_checklist):
    no_quiet_hours(pat)
    return pat


# --- Possibly sent twice -----------------------------------------------------------------


def test_an_email_sent_after_a_lost_claim_is_marked_possibly_sent_twice(
    due_pat, email_to_sink, as_carol, lead_admin, client, django_capture_on_commit_callbacks
):
    rows = make_due(due_pat, channels=[EMAIL], limit=2)
    Reminder.objects.filter(pk=rows[1].pk).update(send_at=timezone.now() + timedelta(hours=1))
    lose_the_claim(rows[:1], django_capture_on_commit_callbacks)
    Reminder.objects.filter(pk=rows[1].pk).update(send_at=timezone.now() - timedelta(seconds=5))
    row = Reminder.objects.get(pk=rows[0].pk)
    assert row.lost_claims == 1 and row.last_error == "lease expired: worker lost" and row.attempts == 1
    deliver_all(django_capture_on_commit_callbacks)
    assert {r.status for r in Reminder.objects.filter(id__in=[r.id for r in rows])} == {Reminder.Status.SENT}

    repeat = DeliveryAttempt.objects.get(reminder=rows[0], outcome="sent")
    assert repeat.possible_duplicate is True
    assert "an earlier attempt may also have been delivered (worker lost)" in repeat.detail
    assert "worker lost" in Reminder.objects.get(pk=rows[0].pk).last_error  # the history stays visible
    clean = DeliveryAttempt.objects.get(reminder=rows[1], outcome="sent")
    assert clean.possible_duplicate is False
    assert Reminder.objects.get(pk=rows[1].pk).last_error == ""

    # The staff delivery log API says so.
    log = as_carol.get(f"/api/v1/patients/{due_pat.pk}/deliveries/").json()["results"]
    by_id = {entry["id"]: entry for entry in log}
    assert by_id[repeat.id]["possible_duplicate"] is True
    assert by_id[clean.id]["possible_duplicate"] is False

    # So does the admin's list, and it filters on it.
    client.force_login(lead_admin)
    url = reverse("admin:reminders_deliveryattempt_changelist")
    page = client.get(url, {"possible_duplicate__exact": "1"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [repeat]
    assert "Possible duplicate" in page.content.decode()


def test_an_inapp_send_after_a_lost_claim_is_not_marked(due_pat, django_capture_on_commit_callbacks):
    """The inbox row is written in the same transaction as the outcome: it cannot exist twice."""
    rows = make_due(due_pat, channels=[INAPP], limit=1)
    lose_the_claim(rows, django_capture_on_commit_callbacks)
    deliver_all(django_capture_on_commit_callbacks)
    assert DeliveryAttempt.objects.get(reminder=rows[0], outcome="sent").possible_duplicate is False


def test_coordinator_page_script_shows_the_marker():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / "frontend/static/frontend/coordinator/coordinator.js").read_text()
    assert "item.possible_duplicate" in script and "possibly sent twice" in script


# --- One identity per reminder on push ----------------------------------------------------


def test_push_topic_and_tag_are_per_reminder(due_pat, push_configured, django_capture_on_commit_callbacks):
    phone = subscribe(due_pat, push_configured)
    rows = make_due(due_pat, channels=[PUSH], limit=3)
    deliver_all(django_capture_on_commit_callbacks)
    assert push_configured.errors == []
    records = [r for r in push_configured.accepted() if r.token == phone.token]
    assert sorted(r.payload["reminder"] for r in records) == sorted(r.id for r in rows)
    for record in records:
        reminder_id = record.payload["reminder"]
        assert record.payload["tag"] == f"reminder-{reminder_id}"
        assert record.headers["topic"] == f"reminder-{reminder_id}"


def test_push_topic_stays_within_rfc_8030():
    topic = webpush.push_topic(2**63 - 1)
    assert len(topic) <= 32 and set(topic) <= webpush.TOPIC_ALPHABET


# --- Retrying after a lost connection ------------------------------------------------------


def test_deliver_reminders_retries_after_a_database_error(due_pat, monkeypatch, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP], limit=3)
    [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    real = delivery.deliver_batch
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(delivery, "deliver_batch", flaky)
    monkeypatch.setattr(delivery, "more_due", lambda now=None: False)
    result = tasks.deliver_reminders.apply(args=(ids, token, channel))
    assert result.successful(), result.traceback
    assert len(calls) == 2
    assert {r.status for r in Reminder.objects.filter(id__in=[r.id for r in rows])} == {Reminder.Status.SENT}
    assert DeliveryAttempt.objects.filter(reminder__in=rows, outcome="sent").count() == 3


def test_sweep_retries_after_a_broker_error(monkeypatch):
    from kombu.exceptions import OperationalError as BrokerError

    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) < 3:
            raise BrokerError("Connection refused")
        return outbox.SweepReport()

    monkeypatch.setattr(outbox, "sweep", flaky)
    assert tasks.sweep_due_reminders.apply().successful()
    assert len(calls) == 3


def test_retries_stop_after_the_maximum(monkeypatch):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise OperationalError("still down")

    monkeypatch.setattr(outbox, "sweep", broken)
    result = tasks.sweep_due_reminders.apply()
    assert result.failed() and isinstance(result.result, OperationalError)
    assert len(calls) == tasks.MAX_CONNECTION_RETRIES + 1


def test_retry_delay_is_short_and_grows():
    assert 0.75 <= tasks.retry_delay(0) <= 1.25
    assert 6 <= tasks.retry_delay(3) <= 10
    assert tasks.retry_delay(50) <= tasks.RETRY_DELAY_CAP_SECONDS


def test_the_record_step_is_tried_again_and_records_once(
    due_pat, email_to_sink, monkeypatch, django_capture_on_commit_callbacks
):
    rows = make_due(due_pat, channels=[EMAIL], limit=3)
    monkeypatch.setattr(delivery, "RECORD_RETRY_DELAYS", (0, 0, 0))
    real = delivery._record
    calls = []

    def flaky(rows_, results, taken_at, report):
        calls.append(1)
        real(rows_, results, taken_at, report)  # writes, then the connection drops before commit
        if len(calls) == 1:
            raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(delivery, "_record", flaky)
    [report] = deliver_all(django_capture_on_commit_callbacks)
    assert len(calls) == 2
    assert report.sent == 3 and report.lost == 0
    assert {r.status for r in Reminder.objects.filter(id__in=[r.id for r in rows])} == {Reminder.Status.SENT}
    assert DeliveryAttempt.objects.filter(reminder__in=rows, outcome="sent").count() == 3
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}


def test_the_record_step_gives_up_after_its_retries(due_pat, email_to_sink, monkeypatch, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[EMAIL], limit=1)
    monkeypatch.setattr(delivery, "RECORD_RETRY_DELAYS", (0, 0))

    def broken(*args):
        raise OperationalError("down")

    monkeypatch.setattr(delivery, "_record", broken)
    with pytest.raises(OperationalError):
        deliver_all(django_capture_on_commit_callbacks)
    # Left "sending": the lease will bring it back, and the repeat will be marked.
    assert Reminder.objects.get(pk=rows[0].pk).status == Reminder.Status.SENDING
