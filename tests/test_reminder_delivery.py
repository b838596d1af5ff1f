"""Delivering claimed reminders in this process: recheck, the three channels, retries and fallback.

Real PostgreSQL, a real SMTP server on loopback, and the Web Push stand-in (the one thing
not run for real). The worker-process tests are in test_reminder_worker.py.
"""

import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from prepapp.reminders import compose, delivery, outbox, recording, timing
from prepapp.reminders.channels import webpush
from prepapp.reminders.channels.inapp import InAppTransport
from prepapp.reminders.models import DeliveryAttempt, InboxMessage, PushSubscription, Reminder
from prepapp.workflows import case_book, case_cancel, case_reschedule, checklist_assign, patient_update, task_complete

from .support.fixtures import subscribe
from .support.outbox import claim_all, deliver_all, make_due, no_quiet_hours

pytestmark = pytest.mark.django_db
INAPP, EMAIL, PUSH = Reminder.Channel.INAPP, Reminder.Channel.EMAIL, Reminder.Channel.PUSH


@pytest.fixture
def due_pat(pat, pat_checklist):
    no_quiet_hours(pat)
    return pat


def statuses(rows):
    return {Reminder.objects.get(pk=r.pk).status for r in rows}


# --- In the app -------------------------------------------------------------------------


def test_inapp_reminders_land_in_the_inbox_once(due_pat, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP])
    calls = claim_all(django_capture_on_commit_callbacks)
    for channel, ids, token in calls:
        delivery.deliver_batch(ids=ids, token=token, channel=channel)
    assert statuses(rows) == {Reminder.Status.SENT}
    assert InboxMessage.objects.filter(patient=due_pat).count() == len(rows)
    message = InboxMessage.objects.filter(patient=due_pat).first()
    assert message.title and message.task_id and message.reminder_id
    # The broker hands the same message over again (a redelivery): nothing is sent twice.
    for channel, ids, token in calls:
        assert delivery.deliver_batch(ids=ids, token=token, channel=channel).taken == 0
    assert InboxMessage.objects.filter(patient=due_pat).count() == len(rows)
    assert DeliveryAttempt.objects.filter(patient=due_pat, outcome="sent").count() == len(rows)


def test_a_stale_message_after_reclaim_sends_nothing(due_pat, settings, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP], limit=3)
    old = claim_all(django_capture_on_commit_callbacks)
    # The worker that got `old` died; the lease ran out and a sweep claimed the rows again.
    Reminder.objects.filter(id__in=[r.id for r in rows]).update(
        lease_until=timezone.now() - timedelta(hours=1), holder="gone-host:4242"
    )
    outbox.reclaim_expired()
    new = claim_all(django_capture_on_commit_callbacks)
    # The first message turns up late: its token is gone, it takes nothing.
    assert delivery.deliver_batch(ids=old[0][1], token=old[0][2], channel=INAPP).taken == 0
    assert delivery.deliver_batch(ids=new[0][1], token=new[0][2], channel=INAPP).sent == 3
    assert InboxMessage.objects.filter(patient=due_pat).count() == 3


# --- The recheck right before sending -------------------------------------------------------


def test_done_task_cancelled_surgery_and_moved_dates_send_nothing(due_pat, pat_checklist, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP])
    calls = claim_all(django_capture_on_commit_callbacks)
    # While the rows were claimed (in flight, so the services did not touch them):
    done_task = rows[0].task
    task_complete(task=done_task, by=due_pat.user)
    # Two weeks later, so that every open step's dates move: with a smaller move, prehab (planned
    # 42 days before, "start now" at 35 days) would stay due in START_NOW_GRACE_DAYS, reminders valid.
    case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=14))
    for channel, ids, token in calls:
        report = delivery.deliver_batch(ids=ids, token=token, channel=channel)
        assert report.sent == 0
    assert InboxMessage.objects.count() == 0
    assert statuses(rows) == {Reminder.Status.CANCELLED}
    done_row = Reminder.objects.get(pk=rows[0].pk)
    assert done_row.last_error == "task done"
    assert Reminder.objects.filter(id__in=[r.id for r in rows[3:]], last_error__startswith="plan changed").exists()


def test_cancelled_surgery_sends_nothing(due_pat, pat_checklist, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP], limit=4)
    calls = claim_all(django_capture_on_commit_callbacks)
    case_cancel(case=pat_checklist.case)
    for channel, ids, token in calls:
        delivery.deliver_batch(ids=ids, token=token, channel=channel)
    assert statuses(rows) == {Reminder.Status.CANCELLED}
    assert not InboxMessage.objects.exists()


def test_channel_turned_off_meanwhile(due_pat, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP], limit=2)
    calls = claim_all(django_capture_on_commit_callbacks)
    patient_update(patient=due_pat, inapp_enabled=False)
    for channel, ids, token in calls:
        delivery.deliver_batch(ids=ids, token=token, channel=channel)
    assert statuses(rows) == {Reminder.Status.CANCELLED}


def test_too_late_is_skipped_not_sent(due_pat, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_MAX_LATENESS_HOURS = 12
    rows = make_due(due_pat, channels=[INAPP], ago=timedelta(hours=13), limit=2)
    deliver_all(django_capture_on_commit_callbacks)
    assert statuses(rows) == {Reminder.Status.SKIPPED}
    assert not InboxMessage.objects.exists()
    assert DeliveryAttempt.objects.filter(outcome="skipped", detail__startswith="too late").count() == 2


def _quiet_around_now(patient, *, began_minutes_ago=30, ends_in_minutes=120):
    local = timezone.now().astimezone(patient.zone)
    start = (datetime.combine(date.today(), local.time()) - timedelta(minutes=began_minutes_ago)).time()
    end = (datetime.combine(date.today(), local.time()) + timedelta(minutes=ends_in_minutes)).time()
    patient.quiet_hours_start, patient.quiet_hours_end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    patient.save(update_fields=["quiet_hours_start", "quiet_hours_end"])


def test_late_into_quiet_hours_waits_for_the_morning(due_pat, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[INAPP], ago=timedelta(minutes=40), limit=2)
    _quiet_around_now(due_pat)  # its time (40 min ago) was before quiet hours began (30 min ago)
    deliver_all(django_capture_on_commit_callbacks)
    assert not InboxMessage.objects.exists()
    for row in Reminder.objects.filter(id__in=[r.id for r in rows]):
        assert row.status == Reminder.Status.PENDING and row.attempts == 0
        local_end = row.send_at.astimezone(due_pat.zone).time()
        assert local_end == due_pat.quiet_hours_end
        assert timedelta(minutes=110) < row.send_at - timezone.now() < timedelta(minutes=121)


def test_late_into_quiet_hours_past_the_cutoff_is_skipped(due_pat, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_MAX_LATENESS_HOURS = 1
    rows = make_due(due_pat, channels=[INAPP], ago=timedelta(minutes=40), limit=1)
    _quiet_around_now(due_pat)
    deliver_all(django_capture_on_commit_callbacks)
    assert statuses(rows) == {Reminder.Status.SKIPPED}


def test_backoff_grows_with_jitter_and_avoids_quiet_hours(pat, settings):
    settings.REMINDER_RETRY_BASE_SECONDS = 60
    settings.REMINDER_RETRY_MAX_SECONDS = 3600  # the cap has its own test (test_delivery_recovery)
    no_quiet_hours(pat)
    now = timezone.now()
    for attempts, base in [(1, 60), (2, 120), (3, 240), (5, 960)]:
        delays = [(timing.next_attempt_at(attempts=attempts, now=now, patient=pat) - now).total_seconds() for _ in range(50)]
        assert all(base * 0.5 <= d <= base * 1.5 for d in delays)
        assert len(set(delays)) > 1  # jitter: not all in step
    assert (timing.next_attempt_at(attempts=1, now=now, patient=pat, retry_after=3600) - now) >= timedelta(hours=1)
    # A retry that would land in quiet hours waits for their end, in the patient's wall-clock time.
    pat.time_zone, pat.quiet_hours_start, pat.quiet_hours_end = "Europe/Madrid", time(21), time(8)
    evening = datetime(2026, 10, 24, 20, 59, 45, tzinfo=ZoneInfo("Europe/Madrid"))  # +30..90 s: inside quiet hours
    when = timing.next_attempt_at(attempts=1, now=evening, patient=pat)
    assert when.astimezone(ZoneInfo("Europe/Madrid")) == datetime(2026, 10, 25, 8, 0, tzinfo=ZoneInfo("Europe/Madrid"))


# --- Email -------------------------------------------------------------------------------


def test_email_goes_out_as_html_and_text_with_the_reminder_id(due_pat, email_to_sink, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[EMAIL], limit=3)
    deliver_all(django_capture_on_commit_callbacks)
    assert statuses(rows) == {Reminder.Status.SENT}
    received = email_to_sink.received()
    assert len(received) == 3
    assert email_to_sink.count_by_reminder() == {r.id: 1 for r in rows}
    message = received[0]
    assert message["To"] == "pat@example.org"
    assert message["Message-ID"].startswith("<reminder-")
    assert message["Auto-Submitted"] == "auto-generated"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    # The link goes through the message's read receipt, then to the step.
    assert "/r/" in html and "/r/" in text and "?to=" in text and "/#/" not in html + text and "Pat Example" in text
    assert "<a href=" in html


def test_email_in_the_patients_language(paul, protocol_version, carol, email_to_sink, django_capture_on_commit_callbacks):
    from prepapp.workflows import case_book, checklist_assign

    from .factories import days_from_today

    patient_update(patient=paul, contact_email="paul@example.org")
    case = case_book(patient=paul, procedure="Fusion", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    no_quiet_hours(paul)
    rows = make_due(paul, channels=[EMAIL])
    deliver_all(django_capture_on_commit_callbacks)
    message = next(m for m in email_to_sink.received() if m["X-Reminder-Id"] == str(rows[0].id))
    text = message.get_body(("plain",)).get_content()
    spanish_title = rows[0].task.definition.localized("es")["title"]
    assert spanish_title in message["Subject"] or spanish_title in text
    month = rows[0].task.due_date.month
    spanish_months = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                      "octubre", "noviembre", "diciembre"]
    assert any(spanish_months[month - 1] in m.get_body(("plain",)).get_content() for m in email_to_sink.received())


def test_smtp_down_means_retry_later_then_failed(due_pat, settings, django_capture_on_commit_callbacks):
    from .support.processes import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.REMINDER_MAX_ATTEMPTS = 2
    rows = make_due(due_pat, channels=[EMAIL], limit=2)
    deliver_all(django_capture_on_commit_callbacks)
    for row in Reminder.objects.filter(id__in=[r.id for r in rows]):
        assert row.status == Reminder.Status.PENDING and row.attempts == 1
        assert row.send_at > timezone.now() + timedelta(seconds=20)
        assert "SMTP unavailable" in row.last_error
    Reminder.objects.filter(id__in=[r.id for r in rows]).update(send_at=timezone.now())
    deliver_all(django_capture_on_commit_callbacks)
    assert statuses(rows) == {Reminder.Status.FAILED}
    log = DeliveryAttempt.objects.filter(reminder=rows[0]).order_by("at", "id")
    assert [a.outcome for a in log] == ["retry", "failed"]


# --- Web Push ----------------------------------------------------------------------------


def test_push_is_signed_encrypted_and_small(due_pat, push_configured, django_capture_on_commit_callbacks):
    phone = subscribe(due_pat, push_configured)
    rows = make_due(due_pat, channels=[PUSH], limit=3)
    deliver_all(django_capture_on_commit_callbacks)
    assert push_configured.errors == []
    assert statuses(rows) == {Reminder.Status.SENT}
    payloads = phone.received
    assert len(payloads) == 3
    assert {p["url"] for p in payloads} == {f"/tasks/{r.task_id}/" for r in rows}
    assert all(set(p) >= {"title", "body", "url", "tag"} for p in payloads)
    record = push_configured.accepted()[0]
    assert int(record.headers["ttl"]) > 0 and record.headers["urgency"] == "normal"
    assert PushSubscription.objects.get(endpoint=phone.endpoint).last_success_at is not None


def test_push_payload_is_trimmed_under_3_kb():
    message = compose.Message(title="T" * 150, body="word " * 2000, url="/#/tasks/1", tag="task-1")
    payload = webpush.push_payload(message)
    assert len(payload.encode()) <= 3000
    assert '"url":"/#/tasks/1"' in payload


@pytest.mark.parametrize("code", [404, 410])
def test_gone_subscription_is_deleted_and_email_takes_over(due_pat, push_configured, code, django_capture_on_commit_callbacks):
    phone = subscribe(due_pat, push_configured)
    push_configured.answer(phone, code)
    rows = make_due(due_pat, channels=[PUSH], limit=2)
    deliver_all(django_capture_on_commit_callbacks)
    assert not PushSubscription.objects.filter(endpoint=phone.endpoint).exists()
    assert statuses(rows) == {Reminder.Status.SKIPPED}
    emails = Reminder.objects.filter(channel=EMAIL, patient=due_pat)
    assert {(e.task_id, e.rule, e.anchor_date) for e in emails} == {(r.task_id, r.rule, r.anchor_date) for r in rows}
    assert {e.status for e in emails} == {Reminder.Status.PENDING}


def test_fallback_never_doubles_an_email_already_planned(due_pat, push_configured, django_capture_on_commit_callbacks):
    rows = make_due(due_pat, channels=[PUSH, EMAIL], limit=2)  # one push and one email for the same rule
    Reminder.objects.filter(channel=EMAIL).update(status=Reminder.Status.SENT)
    deliver_all(django_capture_on_commit_callbacks)  # no subscription: push unavailable
    assert Reminder.objects.get(pk=rows[0].pk).status == Reminder.Status.SKIPPED
    assert Reminder.objects.filter(channel=EMAIL).count() == 1


def test_without_vapid_keys_push_falls_back_to_email(due_pat, settings, django_capture_on_commit_callbacks):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    rows = make_due(due_pat, channels=[PUSH], limit=1)
    deliver_all(django_capture_on_commit_callbacks)
    row = Reminder.objects.get(pk=rows[0].pk)
    assert row.status == Reminder.Status.SKIPPED and "not configured" in row.last_error
    assert Reminder.objects.filter(channel=EMAIL, task=row.task, rule=row.rule).exists()


def test_fallback_needs_email_enabled_and_an_address(due_pat, settings, django_capture_on_commit_callbacks):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    rows = make_due(due_pat, channels=[PUSH], limit=1)
    patient_update(patient=due_pat, email_enabled=False)
    Reminder.objects.filter(pk=rows[0].pk).update(status="pending")  # replanning cancelled nothing it did not plan
    deliver_all(django_capture_on_commit_callbacks)
    assert not Reminder.objects.filter(channel=EMAIL).exists()


def both_channels(patient):
    """The "both" policy: push retries on its own, email goes beside it (no fallback at the first failure)."""
    patient.channel_policy = "both"
    patient.save(update_fields=["channel_policy"])


def test_429_honours_retry_after(due_pat, push_configured, django_capture_on_commit_callbacks):
    both_channels(due_pat)
    phone = subscribe(due_pat, push_configured)
    push_configured.answer(phone, 429, retry_after="900")
    rows = make_due(due_pat, channels=[PUSH], limit=1)
    deliver_all(django_capture_on_commit_callbacks)
    row = Reminder.objects.get(pk=rows[0].pk)
    assert row.status == Reminder.Status.PENDING and row.attempts == 1
    assert row.send_at >= timezone.now() + timedelta(seconds=890)
    assert "429" in row.last_error


def test_500_retries_then_fails_and_falls_back_to_email(due_pat, push_configured, settings, django_capture_on_commit_callbacks):
    both_channels(due_pat)
    settings.REMINDER_MAX_ATTEMPTS = 3
    phone = subscribe(due_pat, push_configured)
    push_configured.answer(phone, 500)
    rows = make_due(due_pat, channels=[PUSH], limit=1)
    for attempt in (1, 2, 3):
        Reminder.objects.filter(pk=rows[0].pk).update(send_at=timezone.now())
        deliver_all(django_capture_on_commit_callbacks)
        row = Reminder.objects.get(pk=rows[0].pk)
        assert row.attempts == attempt
    assert row.status == Reminder.Status.FAILED
    assert [a.outcome for a in DeliveryAttempt.objects.filter(reminder=row).order_by("at", "id")] == [
        "retry", "retry", "failed", "fallback"
    ]
    assert Reminder.objects.filter(channel=EMAIL, task=row.task, rule=row.rule, status="pending").exists()
    assert PushSubscription.objects.filter(endpoint=phone.endpoint).exists()  # a 500 is not "gone"


def test_a_hanging_push_service_times_out_and_the_rest_of_the_batch_goes(
    due_pat, paul, push_configured, protocol_version, carol, django_capture_on_commit_callbacks
):
    from prepapp.workflows import case_book, checklist_assign

    from .factories import days_from_today

    both_channels(due_pat)
    stuck = subscribe(due_pat, push_configured, "stuck phone")
    push_configured.hang(stuck, seconds=10)
    case = case_book(patient=paul, procedure="Fusion", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    no_quiet_hours(paul)
    working = subscribe(paul, push_configured, "working phone")
    stuck_rows = make_due(due_pat, channels=[PUSH], limit=1)
    ok_rows = make_due(paul, channels=[PUSH], limit=2)
    started = timezone.now()
    deliver_all(django_capture_on_commit_callbacks)
    assert timezone.now() - started < timedelta(seconds=8)
    assert statuses(ok_rows) == {Reminder.Status.SENT} and len(working.received) == 2
    row = Reminder.objects.get(pk=stuck_rows[0].pk)
    assert row.status == Reminder.Status.PENDING and "Timeout" in row.last_error


def test_a_patient_with_two_phones_gets_it_on_both(due_pat, push_configured, django_capture_on_commit_callbacks):
    phone, tablet = subscribe(due_pat, push_configured, "phone"), subscribe(due_pat, push_configured, "tablet")
    push_configured.answer(tablet, 410)
    make_due(due_pat, channels=[PUSH], limit=1)
    deliver_all(django_capture_on_commit_callbacks)
    assert len(phone.received) == 1
    assert list(PushSubscription.objects.filter(patient=due_pat).values_list("endpoint", flat=True)) == [phone.endpoint]
    assert Reminder.objects.get(channel=PUSH).status == Reminder.Status.SENT


def test_endpoints_outside_the_push_services_are_refused(settings):
    settings.WEBPUSH_ALLOW_HTTP = False
    settings.WEBPUSH_ENDPOINT_HOSTS = [".googleapis.com", ".push.apple.com"]
    assert webpush.push_endpoint_error("https://fcm.googleapis.com/fcm/send/abc") is None
    assert webpush.push_endpoint_error("https://web.push.apple.com/abc") is None
    assert "https" in webpush.push_endpoint_error("http://fcm.googleapis.com/fcm/send/abc")
    assert "not a known push service" in webpush.push_endpoint_error("https://169.254.169.254/latest")
    assert "not a known push service" in webpush.push_endpoint_error("https://evilgoogleapis.com/x")


# --- Wording -------------------------------------------------------------------------------


def test_wording_follows_the_days_left(due_pat, pat_checklist):
    task = pat_checklist.tasks.select_related("definition").first()
    reminder = Reminder(task=task, patient=due_pat, rule="due-day", channel=INAPP, anchor_date=task.due_date,
                        send_at=timezone.now())
    zone = due_pat.zone
    at = lambda day: datetime.combine(day, time(10), tzinfo=zone)  # noqa: E731
    assert compose.compose(reminder, at(task.due_date)).title.startswith("Due today")
    assert compose.compose(reminder, at(task.due_date - timedelta(days=1))).title.startswith("Due tomorrow")
    assert "in 5 days" in compose.compose(reminder, at(task.due_date - timedelta(days=5))).body
    assert compose.compose(reminder, at(task.due_date + timedelta(days=1))).title.startswith("Not done yet")
    assert compose.compose(reminder, at(task.due_date)).url == f"/tasks/{task.id}/"


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_an_inapp_batch_at_once_deliver_it_once(pat, pat_checklist, monkeypatch):
    """The inbox batch keeps its claim and only locks its rows: a second copy waits, then finds nothing."""
    no_quiet_hours(pat)
    rows = make_due(pat, channels=[INAPP], limit=5)
    calls = []
    outbox.claim_due(limit=100, enqueue=lambda c, i, t: calls.append((c, i, t)))
    [(channel, ids, token)] = calls
    inside, release = threading.Event(), threading.Event()
    original = InAppTransport.send

    def held_send(self, items):
        # The first copy pauses here, inside its transaction, its rows marked sent (and so locked).
        if not inside.is_set():
            inside.set()
            release.wait(10)
        yield from original(self, items)

    monkeypatch.setattr(InAppTransport, "send", held_send)
    reports = {}

    def deliver(name):
        try:
            reports[name] = delivery.deliver_batch(ids=ids, token=token, channel=channel)
        finally:
            connection.close()

    first = threading.Thread(target=deliver, args=("first",))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=deliver, args=("second",))
    second.start()
    second.join(1.0)
    assert second.is_alive()  # waiting for the first copy's row locks
    release.set()
    first.join(10)
    second.join(10)
    assert reports["first"].sent == 5
    # The second copy read the rows too (they are not locked until marked sent), then waited on
    # the first copy's "sent" mark, and found nothing left to mark: it sent and logged nothing.
    assert reports["second"].sent == 0
    assert InboxMessage.objects.filter(patient=pat).count() == 5
    assert DeliveryAttempt.objects.filter(patient=pat, outcome="sent").count() == 5
    assert statuses(rows) == {Reminder.Status.SENT}


def _statements_to_deliver(ids, token, channel) -> tuple[int, recording.BatchReport]:
    statements = []

    def count(execute, sql, params, many, context):
        if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):  # the test's own transaction around it
            statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        report = delivery.deliver_batch(ids=ids, token=token, channel=channel)
    return len(statements), report


def test_an_inapp_batch_takes_the_same_statements_whatever_its_size(
    due_pat, paul, pat_checklist, protocol_version, carol, django_capture_on_commit_callbacks
):
    """Set-based delivery: the statements of a batch do not grow with its reminders, steps or patients."""
    small = make_due(due_pat, channels=[INAPP], limit=2)
    [(_, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    few, report = _statements_to_deliver(ids, token, INAPP)
    assert report.sent == len(small) == 2
    # The rows; the cases' and steps' share locks; the patients, steps, checklists with their
    # cases, and definitions; the commit's setting; the "sent" mark with the log; the inbox rows.
    assert few == 10

    no_quiet_hours(paul)
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=pat_checklist.case.surgery_date)
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    large = make_due(due_pat, channels=[INAPP]) + make_due(paul, channels=[INAPP])
    assert len(large) > 20 * len(small)
    [(_, ids, token)] = claim_all(django_capture_on_commit_callbacks)
    many, report = _statements_to_deliver(ids, token, INAPP)
    assert report.sent == len(large)
    assert many == few
