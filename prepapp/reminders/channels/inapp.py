"""The app's inbox channel."""

from __future__ import annotations

from typing import Iterator

from django.utils import timezone

from prepapp.lib.bulk import insert_rows
from prepapp.reminders.channels.base import Outcome, Outgoing, Result, Transport
from prepapp.reminders.models import FamilyMessage, InboxMessage, Reminder


class InAppTransport(Transport):
    """The app's inbox: one InboxMessage per reminder, written in one statement.

    A family row goes to the caregiver's own inbox (FamilyMessage), never the patient's.
    """

    channel = Reminder.Channel.INAPP
    transactional = True
    uses_receipts = False  # the inbox opens the step in the app itself: no link to sign

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        now = timezone.now()
        # The one-to-one on InboxMessage.reminder makes a second insert for the same
        # reminder a no-op, whatever happened to the status update.
        own = [item for item in items if not item.reminder.for_family]
        family = [item for item in items if item.reminder.for_family]
        if own:
            insert_rows(
                InboxMessage, ["patient_id", "reminder_id", "task_id", "title", "body"],
                [(item.reminder.patient_id, item.reminder.id, item.reminder.task_id, item.message.title,
                  item.message.body) for item in own],
                same={"created_at": now}, ignore_conflicts=True,
            )
        if family:
            insert_rows(
                FamilyMessage, ["caregiver_id", "reminder_id", "title", "body"],
                [(item.reminder.caregiver_id, item.reminder.id, item.message.title, item.message.body)
                 for item in family],
                same={"created_at": now}, ignore_conflicts=True,
            )
        for item in items:
            yield Result(item.reminder.id, Outcome.SENT)
