"""Celery entry points. They only call the engine's services: the outbox and delivery hold the logic.

The broker only ever carries "look now" (a sweep) and "deliver these ids": every fact about
what must be sent lives in the database, so a flushed or restarted Redis loses nothing.
The task names are those the beat schedule and queued messages already use.
"""

import logging

from celery import shared_task

from . import delivery, outbox

log = logging.getLogger(__name__)


def queue_delivery(channel: str, ids: list[int], token: str) -> None:
    """Hand one claimed batch to a worker (the sweeper calls this after its claim has committed)."""
    deliver_reminders.delay(ids, token, channel)


@shared_task(name="prepapp.tasks.sweep_due_reminders", ignore_result=True)
def sweep_due_reminders():
    """Claim due reminders and queue their delivery (beat runs this at least once a minute)."""
    report = outbox.sweep(enqueue=queue_delivery)
    if report.claimed or report.reclaimed:
        log.info("sweep: claimed %s %s, reclaimed %s", report.claimed, report.batches, report.reclaimed)


@shared_task(name="prepapp.tasks.deliver_reminders", ignore_result=True)
def deliver_reminders(ids, token, channel):
    """Deliver one claimed batch; when more reminders are due, ask for another sweep right away."""
    report = delivery.deliver_batch(ids=ids, token=token, channel=channel)
    log.info("delivered %s batch: %s", channel, report)
    if report.fallbacks or delivery.more_due():
        sweep_due_reminders.delay()
