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

from prepapp.reminders import delivery, journal, outages, outbox, recording, tasks, timing
from prepapp.reminders.channels import Outcome, Result, webpush
from prepapp.reminders.models import DeliveryAttempt, Reminder

from .support.fixtures import subscribe
from .support.outbox import claim_all, deliver_all, make_due, no_quiet_hours

pytestmark = pytest.mark.django_db
INAPP, EMAIL, PUSH = Reminder.Channel.INAPP, Reminder.Channel.EMAIL, Reminder.Channel.PUSH


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

    script = (Path(__file__).resolve().parents[1] / "frontend/static/frontend/coordinator/deliveries.js").read_text()
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
    monkeypatch.setattr(recording, "RECORD_RETRY_DELAYS", (0, 0, 0))
    real = recording.record
    calls = []

    def flaky(rows_, results, taken_at, report):
        calls.append(1)
        real(rows_, results, taken_at, report)  # writes, then the connection drops before commit
        if len(calls) == 1:
            raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(recording, "record", flaky)
    [report] = deliver_all(django_capture_on_commit_callbacks)
    assert len(calls) == 2
    assert report.sent == 3 and report.lost == 0
    assert {r.status for r in Reminder.objects.filter(id__in=[r.id for r in rows])} == {Reminder.Status.SENT}
    assert DeliveryAttempt.objects.filter(reminder__in=rows, outcome="sent").count() == 3
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}


def test_the_record_step_gives_up_after_its_retries(due_pat, email_to_sink, monkeypatch, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[EMAIL], limit=1)
    monkeypatch.setattr(recording, "RECORD_RETRY_DELAYS", (0, 0))

    def broken(*args):
        raise OperationalError("down")

    monkeypatch.setattr(recording, "record", broken)
    with pytest.raises(OperationalError):
        deliver_all(django_capture_on_commit_callbacks)
    # Left "sending", but the journal knows it went out.
    assert Reminder.objects.get(pk=rows[0].pk).status == Reminder.Status.SENDING
    assert journal.pending_lines() == 1


# --- The send journal ------------------------------------------------------------------------


def test_a_batch_that_sent_but_could_not_record_is_never_sent_again(
    due_pat, email_to_sink, monkeypatch, django_capture_on_commit_callbacks
):
    """The database stays down past the record step's retries; its lease runs out; nothing goes twice."""
    rows = make_due(due_pat, channels=[EMAIL], limit=3)
    monkeypatch.setattr(recording, "RECORD_RETRY_DELAYS", (0,))
    real = recording.record

    def down(*args):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(recording, "record", down)
    with pytest.raises(OperationalError):
        deliver_all(django_capture_on_commit_callbacks)
    monkeypatch.setattr(recording, "record", real)
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}
    held = Reminder.objects.filter(id__in=[r.id for r in rows])
    assert {r.status for r in held} == {Reminder.Status.SENDING}
    # The lease runs out while nobody records: the sweep consults the journal before reclaiming.
    Reminder.objects.filter(id__in=[r.id for r in rows]).update(lease_until=timezone.now() - timedelta(seconds=1))
    calls = []
    with django_capture_on_commit_callbacks(execute=True):
        report = outbox.sweep(enqueue=lambda c, i, t: calls.append((c, i, t)))
    assert report.reclaimed == 0 and calls == []
    assert {(r.status, r.lost_claims) for r in held.all()} == {(Reminder.Status.SENT, 0)}
    entries = DeliveryAttempt.objects.filter(reminder__in=rows, outcome="sent")
    assert entries.count() == 3 and not any(e.possible_duplicate for e in entries)
    assert all("journal" in e.detail for e in entries)
    assert journal.pending_lines() == 0
    # Nothing left to send: the email went out once.
    assert deliver_all(django_capture_on_commit_callbacks) == []
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}


def test_a_dead_workers_journal_is_recorded_and_removed(due_pat, journal_dir, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[EMAIL], limit=2)
    [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    claim = outbox.parse_token(token)
    # A worker took the batch, sent the first one and was killed: its file has one line and no lock.
    Reminder.objects.filter(id__in=ids).update(holder="gone-host:4242")
    journal_dir.mkdir(parents=True, exist_ok=True)
    dead = journal_dir / f"gone-host-4242-abcd{journal.SUFFIX}"
    dead.write_bytes(journal.Entry(rows[0].id, claim, EMAIL, timezone.now()).line() + b'{"torn":')
    assert journal.replay() == 1
    assert not dead.exists()
    assert Reminder.objects.get(pk=rows[0].pk).status == Reminder.Status.SENT
    assert Reminder.objects.get(pk=rows[1].pk).status == Reminder.Status.SENDING
    # Replaying again changes nothing.
    assert journal.record([journal.Entry(rows[0].id, claim, EMAIL, timezone.now())]) == 0


def test_a_live_workers_journal_is_read_only_for_the_rows_a_reclaim_takes(
    due_pat, journal_dir, django_capture_on_commit_callbacks
):
    import fcntl
    import os

    rows = make_due(due_pat, channels=[EMAIL], limit=2)
    [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    claim = outbox.parse_token(token)
    Reminder.objects.filter(id__in=ids).update(holder="busy-host:77")
    journal_dir.mkdir(parents=True, exist_ok=True)
    live = journal_dir / f"busy-host-77-abcd{journal.SUFFIX}"
    live.write_bytes(b"".join(journal.Entry(r.id, claim, EMAIL, timezone.now()).line() for r in rows))
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # its owner is alive and sending
    try:
        assert journal.replay() == 0  # it records its own batch itself
        Reminder.objects.filter(pk=rows[0].pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert outbox.reclaim_expired() == (0, 0)  # the expiring row was in its journal: sent, not reclaimed
        assert Reminder.objects.get(pk=rows[0].pk).status == Reminder.Status.SENT
        assert Reminder.objects.get(pk=rows[1].pk).status == Reminder.Status.SENDING
        assert live.exists()
    finally:
        os.close(fd)


# --- Leases: the heartbeat, and batches nobody took ---------------------------------------------


def test_a_batch_nobody_took_is_queued_again_under_the_same_token(
    due_pat, settings, django_capture_on_commit_callbacks
):
    """Its message was lost with the broker: after the lease the sweep queues it again; nothing was sent."""
    rows = make_due(due_pat, channels=[INAPP], limit=3)
    [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    calls = []
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=lambda c, i, t: calls.append((c, i, t))).requeued == 0  # within the lease
    later = timezone.now() + timedelta(seconds=settings.REMINDER_LEASE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        report = outbox.sweep(enqueue=lambda c, i, t: calls.append((c, i, t)), now=later)
    assert report.requeued == 1 and report.reclaimed == 0
    # The same batch under the same token, its ids in ascending order as the requeue lists them.
    assert calls == [(channel, sorted(ids), token)]
    fresh = Reminder.objects.filter(id__in=ids)
    assert {(r.status, r.attempts, r.lost_claims) for r in fresh} == {(Reminder.Status.SENDING, 1, 0)}
    assert all(r.lease_until > later for r in fresh)
    # Both copies of the message are harmless: the first takes the rows, the second nothing.
    assert delivery.deliver_batch(ids=ids, token=token, channel=channel).sent == 3
    assert delivery.deliver_batch(ids=ids, token=token, channel=channel).taken == 0


def test_the_heartbeat_renews_the_lease_of_the_batch_it_holds(due_pat, settings, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[EMAIL], limit=2)
    [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    claim = outbox.parse_token(token)
    Reminder.objects.filter(id__in=ids).update(lease_until=timezone.now() - timedelta(seconds=5))
    keeper = outbox.LeaseKeeper(ids=ids, token=claim)
    assert keeper.interval == settings.REMINDER_LEASE_SECONDS / 3
    assert keeper.renew() == 2
    assert all(r.lease_until > timezone.now() for r in Reminder.objects.filter(id__in=ids))
    # Another token's heartbeat (a stale worker) renews nothing.
    assert outbox.LeaseKeeper(ids=ids, token=claim - timedelta(seconds=1)).renew() == 0


def test_a_taken_row_names_its_worker_and_holds_a_short_lease(due_pat, email_to_sink, settings,
                                                                django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[EMAIL], limit=1)
    [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    row = Reminder.objects.get(pk=rows[0].pk)
    assert row.holder == "" and row.lease_until == row.claimed_at + timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    delivery.deliver_batch(ids=ids, token=token, channel=channel)
    row.refresh_from_db()
    assert row.status == Reminder.Status.SENT and row.holder == journal.worker_id()
    assert journal.pending_lines() == 0  # recorded: the journal is empty again


# --- Retrying after an outage ---------------------------------------------------------------


def test_backoff_is_capped(pat, settings):
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    settings.REMINDER_RETRY_MAX_SECONDS = 300
    no_quiet_hours(pat)
    now = timezone.now()
    for attempts in (4, 5, 12, 40):
        delay = timing.next_attempt_at(attempts=attempts, now=now, patient=pat) - now
        assert delay <= timedelta(seconds=300)
    # What the far side asks for is still respected.
    assert timing.next_attempt_at(attempts=1, now=now, patient=pat, retry_after=900) - now >= timedelta(seconds=900)


def test_rows_that_waited_for_the_channel_go_as_soon_as_it_works_again(
    due_pat, email_to_sink, settings, django_capture_on_commit_callbacks
):
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    rows = make_due(due_pat, channels=[EMAIL], limit=4)
    waiting, later_one = rows[:3], rows[3]
    Reminder.objects.filter(pk=later_one.pk).update(send_at=timezone.now() + timedelta(hours=1))
    email_to_sink.go_down()
    [report] = deliver_all(django_capture_on_commit_callbacks)
    assert report.retried == 3
    now = timezone.now()
    for row in Reminder.objects.filter(id__in=[r.id for r in waiting]):
        assert row.status == Reminder.Status.PENDING and row.waiting_for_channel and row.send_at > now
    # A recipient's own trouble, followed by a success in the same batch, is not a channel outage.
    results = {1: Result(1, Outcome.RETRY), 2: Result(2, Outcome.SENT),
               3: Result(3, Outcome.RETRY, retry_after=30.0),
               4: Result(4, Outcome.RETRY)}
    assert outages.trailing_transient_failures(results) == [4]

    email_to_sink.come_back()
    Reminder.objects.filter(pk=later_one.pk).update(send_at=timezone.now() - timedelta(seconds=1))
    [report] = deliver_all(django_capture_on_commit_callbacks)
    assert report.sent == 1 and report.brought_forward == 3
    assert all(r.send_at <= timezone.now() and not r.waiting_for_channel
               for r in Reminder.objects.filter(id__in=[r.id for r in waiting]))
    # The next sweep sends them: no waiting out the backoff.
    deliver_all(django_capture_on_commit_callbacks)
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}


def test_a_probe_tries_a_channel_that_went_down_once_per_sweep(
    due_pat, email_to_sink, settings, django_capture_on_commit_callbacks
):
    """After an outage the first try comes with the next sweep, not when some backoff runs out."""
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    rows = make_due(due_pat, channels=[EMAIL], limit=3)
    email_to_sink.go_down()
    deliver_all(django_capture_on_commit_callbacks)
    waiting = Reminder.objects.filter(id__in=[r.id for r in rows])
    assert {(r.waiting_for_channel, r.attempts) for r in waiting} == {(True, 1)}
    assert deliver_all(django_capture_on_commit_callbacks) == []  # nothing due: all wait out their backoff

    # Still down: each sweep's probe tries one row, and the probe uses up no attempt.
    for _ in range(3):
        assert outages.probe_waiting_channels() == 1
        assert outages.probe_waiting_channels() == 0  # one is due already
        [report] = deliver_all(django_capture_on_commit_callbacks)
        assert report.taken == 1 and report.retried == 1
    assert {r.attempts for r in waiting.all()} == {1}

    # Back: the probe gets through and brings the others forward; the next sweep sends them.
    email_to_sink.come_back()
    assert outages.probe_waiting_channels() == 1
    [report] = deliver_all(django_capture_on_commit_callbacks)
    assert report.sent == 1 and report.brought_forward == 2
    [report] = deliver_all(django_capture_on_commit_callbacks)
    assert report.sent == 2
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}
    # The probe used no attempt of its own; the others one each for the outage and one to go out.
    assert sorted(r.attempts for r in waiting.all()) == [1, 2, 2]
