"""The app's inbox channel."""

from __future__ import annotations

from typing import Iterator

from django.utils import timezone

from ..models import InboxMessage, Reminder
from .base import Outcome, Outgoing, Result, Transport


class InAppTransport(Transport):
    """The app's inbox: one InboxMessage per reminder, written in bulk."""

    channel = Reminder.Channel.INAPP
    transactional = True

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        now = timezone.now()
        # The one-to-one on InboxMessage.reminder makes a second insert for the same
        # reminder a no-op, whatever happened to the status update.
        InboxMessage.objects.bulk_create(
            [
                InboxMessage(
                    patient_id=item.reminder.patient_id, reminder_id=item.reminder.id, task_id=item.reminder.task_id,
                    title=item.message.title, body=item.message.body, created_at=now,
                )
                for item in items
            ],
            ignore_conflicts=True,
        )
        for item in items:
            yield Result(item.reminder.id, Outcome.SENT)
