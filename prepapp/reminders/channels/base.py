"""What every channel shares: the item to send, the result to report, and the Transport base class.

A transport gets reminders that have passed every check and are ready to go, with their
text already composed in the patient's language, and yields one Result per reminder as
it goes. It never changes a reminder's status: recording the outcome, retrying and
falling back belong to `delivery`, which is the same for every channel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterator

from prepapp.reminders.compose import Message
from prepapp.reminders.models import Reminder


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # a passing problem: try again later
    FAILED = "failed"  # the channel refused this message for good
    UNAVAILABLE = "unavailable"  # the channel cannot reach this patient at all (no keys, no subscription)


@dataclass
class Result:
    reminder_id: int
    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None  # seconds, when the far side asked for a pause


@dataclass
class Outgoing:
    reminder: Reminder
    message: Message


class Transport:
    """One delivery channel. Subclasses set `channel` and implement `send`."""

    channel: str = ""
    # True: `send` only writes to our own database, so delivery runs it inside the
    # transaction that records the outcome (sent and recorded, or neither).
    transactional = False
    # False: the channel's messages carry no link, so composing skips the signed receipt token.
    uses_receipts = True

    def unavailable_reason(self) -> str | None:
        """Why this channel cannot send at all right now (e.g. not configured), or None."""
        return None

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        raise NotImplementedError
