"""Celery entry points. They only call the engine's services: the outbox and delivery hold the logic.

The broker only ever carries "look now" (a sweep) and "deliver these ids": every fact about
what must be sent lives in the database, so a flushed or restarted Redis loses nothing.
The task names are those the beat schedule and queued messages already use.

When the database or the broker connection drops, a task tries itself again a few times,
seconds apart: a delivery repeated with the same claim token takes nothing that another run
already took, so a repeat never sends twice. Every delivery task, and every worker as it
starts, first replays the host's send journal (`journal`): what went out but could not be
recorded is recorded then.
"""

import logging
import random

from celery import shared_task
from celery.signals import worker_ready
from django.core.cache import cache
from django.db import InterfaceError, connections
from django.db import OperationalError as DatabaseError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from prepapp.reminders import (
    check_ins, delivery, escalation, family, journal, outages, outbox, recording, safety_reminders,
)

log = logging.getLogger(__name__)

# Connection failures worth another try: the database's and the broker's.
CONNECTION_ERRORS = (DatabaseError, InterfaceError, BrokerError, RedisConnectionError)
MAX_CONNECTION_RETRIES = 5
RETRY_DELAY_CAP_SECONDS = 30  # never more: nothing is scheduled far ahead in the broker
# Set while a sweep asked for by a delivery waits in the queue (see request_sweep).
SWEEP_REQUESTED_KEY = "reminders:sweep-requested"
SWEEP_REQUEST_SECONDS = 10


def retry_delay(retries: int) -> float:
    """1, 2, 4, 8, 16 s (± 25 % jitter), never more than RETRY_DELAY_CAP_SECONDS."""
    # Jitter spreads the retries of many workers out; nothing here needs to be unpredictable (bandit B311).
    delay = (2 ** max(0, retries)) * random.uniform(0.75, 1.25)  # nosec B311
    return min(delay, RETRY_DELAY_CAP_SECONDS)


def _retry_on_connection_loss(task, exc):
    """Close the broken database connection and queue this task again shortly (raises Retry)."""
    recording.reset_broken_connection()
    log.warning("%s lost a connection (%r); retry %s of %s", task.name, exc, task.request.retries + 1, task.max_retries)
    _retry_soon(task, exc)


def _retry_soon(task, exc):
    """Queue this task again a few seconds ahead (retry_delay, capped): the only countdown in the engine."""
    raise task.retry(exc=exc, countdown=retry_delay(task.request.retries))


def queue_delivery(channel: str, ids: list[int], token: str) -> None:
    """Hand one claimed batch to a worker (the sweeper calls this after its claim has committed)."""
    deliver_reminders.delay(ids, token, channel)


def request_sweep() -> None:
    """Queue a sweep now, unless one asked for this way is already waiting in the queue.

    Every delivery that finds more reminders due asks for a sweep; without this, a backlog
    of n batches would queue n sweeps, each costing a worker as much as a small batch. The
    mark is taken with an atomic add and cleared when the sweep starts; it runs out by
    itself should that sweep's message be lost (beat sweeps anyway).
    """
    try:
        first = cache.add(SWEEP_REQUESTED_KEY, 1, timeout=SWEEP_REQUEST_SECONDS)
    except (RedisError, OSError) as exc:  # the cache is down: an extra sweep is cheaper than a missed one
        log.warning("could not mark the sweep request (%r); queueing it anyway", exc)
        first = True
    if first:
        sweep_due_reminders.delay()


def _clear_sweep_request() -> None:
    try:
        cache.delete(SWEEP_REQUESTED_KEY)
    except (RedisError, OSError) as exc:  # it runs out by itself
        log.warning("could not clear the sweep request mark (%r)", exc)


@shared_task(name="prepapp.tasks.sweep_due_reminders", ignore_result=True, bind=True,
             max_retries=MAX_CONNECTION_RETRIES)
def sweep_due_reminders(self):
    """Claim due reminders and queue their delivery (beat runs this at least once a minute)."""
    # Cleared before looking: a delivery finishing from now on may ask for the next sweep.
    _clear_sweep_request()
    try:
        outages.probe_waiting_channels()
        report = outbox.sweep(enqueue=queue_delivery)
    except CONNECTION_ERRORS as exc:
        _retry_on_connection_loss(self, exc)
    if report.claimed or report.reclaimed or report.requeued:
        log.info("sweep: claimed %s %s, reclaimed %s, queued again %s batches", report.claimed, report.batches,
                 report.reclaimed, report.requeued)


@shared_task(name="prepapp.tasks.deliver_reminders", ignore_result=True, bind=True,
             max_retries=MAX_CONNECTION_RETRIES)
def deliver_reminders(self, ids, token, channel):
    """Deliver one claimed batch; when more reminders are due, ask for another sweep right away."""
    try:
        journal.replay()
        report = delivery.deliver_batch(ids=ids, token=token, channel=channel)
        log.info("delivered %s batch: %s", channel, report)
        if report.fallbacks or delivery.more_due():
            request_sweep()
    except CONNECTION_ERRORS as exc:
        _retry_on_connection_loss(self, exc)


@worker_ready.connect
def replay_journal_at_start(sender=None, **kwargs):
    """A worker starting (again) records what its dead predecessors on this host sent but never recorded."""
    try:
        journal.current().directory.mkdir(parents=True, exist_ok=True)
        recorded = journal.replay()
    except CONNECTION_ERRORS as exc:
        # Delivery tasks and the sweeper replay it too, once the database answers.
        log.warning("could not replay the send journal at start (%r); it is replayed again before any delivery", exc)
        return
    finally:
        connections.close_all()
    if recorded:
        log.warning("recorded %s reminders from the send journal at start", recorded)


@shared_task(name="prepapp.tasks.escalate_overdue_steps", ignore_result=True, bind=True,
             max_retries=MAX_CONNECTION_RETRIES)
def escalate_overdue_steps(self):
    """Raise alerts about overdue critical steps and send the coordinators' morning emails (beat)."""
    try:
        raised, emails = escalation.escalate()
    except CONNECTION_ERRORS as exc:
        _retry_on_connection_loss(self, exc)
    if raised or emails.sent or emails.failed:
        log.info("escalation: %s alerts raised, %s emails sent, %s failed", raised, emails.sent, emails.failed)


@shared_task(name="prepapp.tasks.plan_safety_reminders", ignore_result=True, bind=True,
             max_retries=MAX_CONNECTION_RETRIES)
def plan_safety_reminders(self):
    """Plan today's and tomorrow's evening-before, check-in and rules reminders (beat); the sweeper sends them."""
    try:
        planned = safety_reminders.plan_due()
        planned += family.plan_due()
    except CONNECTION_ERRORS as exc:
        _retry_on_connection_loss(self, exc)
    if planned:
        log.info("safety reminders: %s rows planned or brought back", planned)


@shared_task(name="prepapp.tasks.email_check_in_alert", ignore_result=True, bind=True,
             max_retries=MAX_CONNECTION_RETRIES)
def email_check_in_alert(self, alert_id: int):
    """Email the care team at once about a check-in's warning sign (queued when the check-in commits)."""
    try:
        check_ins.send_red_flag_email(alert_id=alert_id)
    except CONNECTION_ERRORS as exc:
        _retry_on_connection_loss(self, exc)
    except OSError as exc:  # the mail server: try again soon, the alert row holds the truth
        _retry_soon(self, exc)
