"""End to end with real processes: Celery worker and beat, PostgreSQL, Redis, SMTP, push stand-in.

Rows are committed (transactional_db) so the worker and beat, which run the operator's
`celery -A config worker|beat` against pytest-django's test database, see them.
"""

import time as clock
from datetime import timedelta

import pytest
from django.utils import timezone

from checklists.models import Task
from prepapp.reminders import planning
from prepapp.reminders.models import DeliveryAttempt, InboxMessage, PushSubscription, Reminder
from prepapp.workflows import case_reschedule

from .conftest import client_for
from .support.fixtures import subscribe
from .support.outbox import make_due, no_quiet_hours
from .support.processes import wait_until
from .support.smtp import SmtpSink
from .support.stack import Stack, redis_url_from_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
INAPP, EMAIL, PUSH = Reminder.Channel.INAPP, Reminder.Channel.EMAIL, Reminder.Channel.PUSH


def open_count():
    return Reminder.objects.filter(status__in=["pending", "sending"], send_at__lte=timezone.now()).count()


@pytest.fixture
def stack_factory(tmp_path):
    stacks = []

    def make(**kwargs):
        stack = Stack(tmp_path, redis_url=kwargs.pop("redis_url", None) or redis_url_from_env(), **kwargs)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


def test_every_channel_end_to_end(pat, pat_checklist, smtp_sink, push_service, vapid_keys, stack_factory):
    no_quiet_hours(pat)
    phone = subscribe(pat, push_service)
    rows = make_due(pat, channels=[INAPP, EMAIL, PUSH])
    stack = stack_factory(smtp=smtp_sink, push=push_service, vapid_keys=vapid_keys)
    stack.worker()
    stack.beat()
    try:
        wait_until(lambda: Reminder.objects.filter(status="sent").count() == len(rows), timeout=45,
                   what="every reminder to be sent")
    except AssertionError:
        print(stack.logs())
        raise
    by_channel = {c: [r.id for r in rows if r.channel == c] for c in (INAPP, EMAIL, PUSH)}
    assert sorted(InboxMessage.objects.values_list("reminder_id", flat=True)) == sorted(by_channel[INAPP])
    assert smtp_sink.count_by_reminder() == {i: 1 for i in by_channel[EMAIL]}
    assert push_service.errors == []
    assert push_service.count_by_reminder() == {i: 1 for i in by_channel[PUSH]}
    assert {p["url"] for p in phone.received} <= {f"/tasks/{t}/" for t in pat_checklist.tasks.values_list("id", flat=True)}
    # The PWA reads them through the API.
    as_pat = client_for(pat.user)
    assert as_pat.get("/api/v1/me/inbox/unread-count/").json() == {"unread": len(by_channel[INAPP])}
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == len(rows)


def test_reschedule_while_reminders_are_being_claimed_sends_nothing_for_the_old_date(
    pat, pat_checklist, stack_factory
):
    """The surgery moves in the middle of a delivery run.

    A reminder for the old date may only go out if it had already passed its final check
    (under the task's row lock) before the move committed; everything after is cancelled.
    """
    no_quiet_hours(pat)
    slow_smtp = SmtpSink(latency=0.05).start()
    try:
        rows = make_due(pat, channels=[INAPP, EMAIL])
        stack = stack_factory(smtp=slow_smtp, REMINDER_BATCH_SIZE=4)
        stack.worker(concurrency=2)
        stack.beat()
        wait_until(lambda: Reminder.objects.filter(status="sent").count() >= 4, timeout=40, what="the first deliveries")
        case_reschedule(case=pat_checklist.case, surgery_date=pat_checklist.case.surgery_date + timedelta(days=9))
        moved_at = timezone.now()
        wait_until(lambda: open_count() == 0, timeout=60, what="the run to finish")
        clock.sleep(1)  # any email still being written reaches the sink
        sent_old, cancelled = [], 0
        tasks = {t.id: t for t in Task.objects.filter(checklist=pat_checklist).select_related("definition")}
        for row in Reminder.objects.filter(id__in=[r.id for r in rows]):
            rule = next(r for r in tasks[row.task_id].definition.reminder_rules if r["key"] == row.rule)
            old_date = planning.anchor_date_for(tasks[row.task_id], rule) != row.anchor_date
            if row.status == "sent" and old_date:
                sent_old.append(row)
            cancelled += row.status == "cancelled"
        print(f"\nreschedule mid-run: {len(rows)} rows, {len(sent_old)} went out before the move, {cancelled} cancelled")
        assert cancelled > 0, "the move happened after the run: the test proved nothing"
        for row in sent_old:
            # claimed_at is when the row passed its last check, inside the locking transaction.
            assert row.claimed_at < moved_at, (row.id, row.claimed_at, moved_at)
        late = [r for r in sent_old if r.channel == INAPP and r.sent_at > moved_at]
        assert late == []  # in-app is checked and written in one transaction: nothing after the move
        emailed = slow_smtp.count_by_reminder()
        assert set(emailed) <= {r.id for r in Reminder.objects.filter(status="sent", channel=EMAIL)}
    finally:
        slow_smtp.stop()


def test_a_push_backlog_is_sent_by_both_worker_processes_each_on_its_own_kept_connection(
    pat, pat_checklist, vapid_keys, stack_factory
):
    """A sweep cuts the due pushes into batches (REMINDER_BATCH_SIZE), each a task of its own, so
    the worker's two processes encrypt and send side by side; each keeps one connection.

    The stand-in answers each message after 0.4 s, so that one process cannot have taken every
    batch before the other took its first.
    """
    from .support.push_service import PushService

    no_quiet_hours(pat)
    slow_push = PushService(expected_public_key=vapid_keys[0], latency=0.4).start()
    try:
        phone = subscribe(pat, slow_push)
        rows = make_due(pat, channels=[PUSH], limit=4)
        assert len(rows) == 4
        stack = stack_factory(push=slow_push, vapid_keys=vapid_keys, REMINDER_BATCH_SIZE=1)
        stack.worker(concurrency=2)
        stack.beat()
        try:
            wait_until(lambda: Reminder.objects.filter(status="sent").count() == len(rows), timeout=45,
                       what="every push to be sent")
        except AssertionError:
            print(stack.logs())
            raise
        assert slow_push.errors == [] and slow_push.count_by_reminder() == {r.id: 1 for r in rows}
        assert len(phone.received) == len(rows)
        # Two connections for four batches: both processes sent, and each kept its own connection.
        assert slow_push.connections_opened == 2
    finally:
        slow_push.stop()


def test_push_that_cannot_reach_the_patient_falls_back_to_email_through_the_worker(
    pat, paul, pat_checklist, protocol_version, carol, smtp_sink, push_service, vapid_keys, stack_factory
):
    """Push answers 410 (gone) for pat's phone and 500 for paul's: both get the email in the same run."""
    from prepapp.workflows import case_book, checklist_assign

    from .factories import days_from_today

    paul.contact_email = "paul@example.org"
    paul.save(update_fields=["contact_email"])
    case = case_book(patient=paul, procedure="Fusion", surgery_date=days_from_today(40))
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    no_quiet_hours(pat, paul)
    gone, broken = subscribe(pat, push_service, "old phone"), subscribe(paul, push_service, "phone")
    push_service.answer(gone, 410)
    push_service.answer(broken, 500)
    pushes = make_due(pat, channels=[PUSH], limit=2) + make_due(paul, channels=[PUSH], limit=1)
    stack = stack_factory(smtp=smtp_sink, push=push_service, vapid_keys=vapid_keys)
    stack.worker()
    stack.beat()
    try:
        # The SMTP server has a message before the worker records it: wait for both.
        wait_until(
            lambda: len(smtp_sink.received()) == 3
            and Reminder.objects.filter(channel=EMAIL, status="sent").count() == 3,
            timeout=45, what="three fallback emails, sent and recorded",
        )
    except AssertionError:
        print(stack.logs())
        raise
    emails = Reminder.objects.filter(channel=EMAIL)
    assert emails.count() == 3 and all(e.fallback and e.status == "sent" for e in emails)
    assert sorted(m["To"] for m in smtp_sink.received()) == ["pat@example.org", "pat@example.org", "paul@example.org"]
    for push in pushes:
        push.refresh_from_db()
        assert push.status in ("failed", "skipped")
        outcomes = list(DeliveryAttempt.objects.filter(reminder=push).order_by("at", "id").values_list("outcome", flat=True))
        assert outcomes[-1] == "fallback", outcomes
    # The coordinator's delivery log shows push gave way and the email went.
    as_carol = client_for(carol)
    log = as_carol.get(f"/api/v1/patients/{paul.id}/deliveries/").json()["results"]
    assert [(e["channel"], e["outcome"]) for e in log][:3] == [("email", "sent"), ("push", "fallback"), ("push", "failed")]
    assert not PushSubscription.objects.filter(endpoint=gone.endpoint).exists()  # gone: forgotten
    assert PushSubscription.objects.filter(endpoint=broken.endpoint).exists()  # a 500 is not "gone"
    clock.sleep(1)
    assert len(smtp_sink.received()) == 3  # nothing more arrives
