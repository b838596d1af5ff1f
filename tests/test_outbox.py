"""The outbox: claiming due rows, the lease, back-pressure, and the lateness cut-off."""

from datetime import timedelta

import pytest
import redis
from django.db import connection
from django.utils import timezone

from prepapp.reminders import outbox, tasks
from prepapp.reminders.models import DeliveryAttempt, Reminder

from .support.outbox import make_due, no_quiet_hours

pytestmark = pytest.mark.django_db


class Captured:
    """Stands in for the broker: records what would have been queued."""

    def __init__(self):
        self.calls = []

    def __call__(self, channel, ids, token):
        self.calls.append((channel, ids, token))

    @property
    def ids(self):
        return [i for _, ids, _ in self.calls for i in ids]


@pytest.fixture
def due(pat, pat_checklist):
    no_quiet_hours(pat)
    return make_due(pat, channels=[Reminder.Channel.INAPP, Reminder.Channel.EMAIL])


def test_claim_marks_rows_sending_and_queues_them_only_after_commit(due, django_capture_on_commit_callbacks):
    sent = Captured()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        by_channel = outbox.claim_due(limit=1000, enqueue=sent)
    assert sent.calls == []  # nothing reaches the broker before the claim has committed
    for callback in callbacks:
        callback()
    assert sorted(sent.ids) == sorted(r.id for r in due)
    assert set(by_channel) == {"inapp", "email"}
    rows = Reminder.objects.filter(id__in=sent.ids)
    assert {r.status for r in rows} == {Reminder.Status.SENDING}
    assert {r.attempts for r in rows} == {1}
    token = sent.calls[0][2]
    assert {outbox.claim_token(r.claimed_at) for r in rows} == {token}


def test_claim_takes_only_due_pending_rows_oldest_first(due, django_capture_on_commit_callbacks):
    later = due[0]
    Reminder.objects.filter(pk=later.pk).update(send_at=timezone.now() + timedelta(minutes=5))
    Reminder.objects.filter(pk=due[1].pk).update(status=Reminder.Status.CANCELLED)
    Reminder.objects.filter(pk=due[2].pk).update(send_at=timezone.now() - timedelta(hours=1))
    sent = Captured()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=1, enqueue=sent)
    assert sent.ids == [due[2].pk]
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=1000, enqueue=sent)
    assert later.pk not in sent.ids and due[1].pk not in sent.ids
    assert len(sent.ids) == len(due) - 2


def test_a_second_claim_finds_nothing_left(due, django_capture_on_commit_callbacks):
    first, second = Captured(), Captured()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=1000, enqueue=first)
        outbox.claim_due(limit=1000, enqueue=second)
    assert len(first.ids) == len(due) and second.ids == []


def test_rows_locked_by_another_claim_are_skipped_not_waited_for(due, transactional_db):
    """Two sweepers at once: the second skips the rows the first holds (SKIP LOCKED), it does not block."""
    import threading

    from django.db import connections, transaction

    assert connection.features.has_select_for_update_skip_locked, "these tests run on PostgreSQL"
    holding, release = threading.Event(), threading.Event()
    first_ids = []

    def first_sweeper():
        try:
            with transaction.atomic():
                first_ids.extend(
                    Reminder.objects.select_for_update(skip_locked=True)
                    .filter(status="pending").order_by("send_at").values_list("id", flat=True)[:5]
                )
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    t = threading.Thread(target=first_sweeper)
    t.start()
    holding.wait(10)
    sent = Captured()
    try:
        outbox.claim_due(limit=1000, enqueue=sent)
    finally:
        release.set()
        t.join()
    assert len(first_ids) == 5
    assert set(sent.ids).isdisjoint(first_ids)
    assert len(sent.ids) == len(due) - 5


def test_sweep_stops_at_the_in_flight_ceiling(due, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_BATCH_SIZE = settings.REMINDER_INAPP_BATCH_SIZE = 4
    settings.REMINDER_MAX_IN_FLIGHT = 10
    sent = Captured()
    with django_capture_on_commit_callbacks(execute=True):
        report = outbox.sweep(enqueue=sent)
    assert report.claimed == 10 == len(sent.ids)
    assert len(sent.calls) >= 3  # batches of at most 4, split by channel
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=sent).claimed == 0  # still ten in flight: no room
    Reminder.objects.filter(id__in=sent.ids[:4]).update(status=Reminder.Status.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=sent).claimed == 4


def test_at_the_ceiling_a_sweep_waits_for_room_for_a_whole_claim(due, settings, django_capture_on_commit_callbacks):
    # A quarter of the ceiling (4) is the least claimed while rows are in flight.
    settings.REMINDER_BATCH_SIZE = settings.REMINDER_INAPP_BATCH_SIZE = 4
    settings.REMINDER_MAX_IN_FLIGHT = 16
    assert len(due) > 16
    sent = Captured()
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=sent).claimed == 16
    Reminder.objects.filter(id__in=sent.ids[:3]).update(status=Reminder.Status.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=sent).claimed == 0  # room for 3: not a sliver
    Reminder.objects.filter(id__in=sent.ids[3:4]).update(status=Reminder.Status.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=sent).claimed == 4
    # Nothing in flight: whatever is due is claimed, however little.
    Reminder.objects.filter(status=Reminder.Status.SENDING).update(status=Reminder.Status.SENT)
    settings.REMINDER_MAX_IN_FLIGHT = 4000
    settings.REMINDER_BATCH_SIZE = settings.REMINDER_INAPP_BATCH_SIZE = 1000
    left = Reminder.objects.filter(status=Reminder.Status.PENDING).count()
    assert 0 < left < 1000
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.sweep(enqueue=sent).claimed == left


def test_expired_lease_puts_rows_back_and_they_are_claimed_again(due, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_LEASE_SECONDS = 60
    sent = Captured()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=3, enqueue=sent)
    claimed = sent.ids
    # A worker took them and died: nobody renews the lease or records anything.
    Reminder.objects.filter(id__in=claimed).update(holder="gone-host:4242")
    # Within the lease nothing happens...
    assert outbox.reclaim_expired(now=timezone.now() + timedelta(seconds=30)) == (0, 0)
    # ...after it, the rows are pending again and the next sweep claims them with a new token.
    later = timezone.now() + timedelta(seconds=61)
    assert outbox.reclaim_expired(now=later) == (3, 0)
    assert set(Reminder.objects.filter(id__in=claimed).values_list("status", flat=True)) == {"pending"}
    # The lost claim is counted: a later send on email or push is marked "possibly sent twice".
    assert set(Reminder.objects.filter(id__in=claimed).values_list("lost_claims", flat=True)) == {1}
    assert set(Reminder.objects.exclude(id__in=claimed).values_list("lost_claims", flat=True)) <= {0}
    again = Captured()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=1000, now=later, enqueue=again)
    assert set(claimed) <= set(again.ids)
    assert again.calls[0][2] != sent.calls[0][2]
    assert set(Reminder.objects.filter(id__in=claimed).values_list("attempts", flat=True)) == {2}


def test_a_row_that_keeps_losing_its_worker_fails_for_good(due, settings):
    settings.REMINDER_LEASE_SECONDS = 60
    settings.REMINDER_MAX_ATTEMPTS = 3
    row = due[0]
    Reminder.objects.filter(pk=row.pk).update(
        status="sending", attempts=3, claimed_at=timezone.now() - timedelta(minutes=5),
        lease_until=timezone.now() - timedelta(minutes=4), holder="gone-host:4242",
    )
    assert outbox.reclaim_expired() == (0, 1)
    row.refresh_from_db()
    assert row.status == Reminder.Status.FAILED
    assert DeliveryAttempt.objects.get(reminder=row).outcome == DeliveryAttempt.Outcome.FAILED


def test_sweep_query_uses_the_partial_index(due):
    """The sweeper's cost follows the due rows, not the table: its claim reads the partial index."""
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        claimed = outbox.claim_due(limit=200, enqueue=lambda *args: None)
    assert claimed
    [(claim, params)] = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("WITH")]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN {claim}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    assert "reminder_pending_due_idx" in plan


def test_inapp_batches_are_larger_than_email_batches(due, settings, django_capture_on_commit_callbacks):
    settings.REMINDER_BATCH_SIZE = 2
    settings.REMINDER_INAPP_BATCH_SIZE = 5
    sent = Captured()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=1000, enqueue=sent)
    sizes = {channel: [len(ids) for c, ids, _ in sent.calls if c == channel] for channel in ("inapp", "email")}
    inapp = [r for r in due if r.channel == "inapp"]
    email = [r for r in due if r.channel == "email"]
    assert sum(sizes["inapp"]) == len(inapp) and max(sizes["inapp"]) == min(5, len(inapp))
    assert sum(sizes["email"]) == len(email) and max(sizes["email"]) == 2
    assert len(sizes["email"]) == -(-len(email) // 2)
    # One claim, one token, whatever the number of batches.
    assert len({token for _, _, token in sent.calls}) == 1


def test_a_backlog_asks_for_one_sweep_at_a_time(settings):
    """Every delivery that sees more due asks for a sweep; only one waits in the queue at a time."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    before = broker.llen(queue)
    try:
        for _ in range(3):
            tasks.request_sweep()
        assert broker.llen(queue) == before + 1
        tasks._clear_sweep_request()  # what the sweep does as it starts
        tasks.request_sweep()
        assert broker.llen(queue) == before + 2
    finally:
        # Take back the messages queued here (kombu pushes on the left and pops on the right).
        for _ in range(broker.llen(queue) - before):
            broker.lpop(queue)
