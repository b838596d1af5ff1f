"""Read receipts: a message the patient opened (a notification, an email link) is marked read.

Each message carries its own signed token (the reminder and the patient, signed with
SECRET_KEY and a purpose of its own, with the time it was made), so a link works without
signing in, cannot be made up or pointed at another message, and stops counting after
RECEIPT_TOKEN_MAX_AGE_DAYS. The coordinator sees the receipt as `read_at` in the delivery log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from prepapp.reminders.models import InboxMessage, Reminder

SALT = "prepapp.reminders.receipt"


class ReceiptError(ValueError):
    """A receipt token that cannot be used; the message says why, in words a patient can read."""


def token_for(reminder: Reminder) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"r": reminder.id, "p": reminder.patient_id}, compress=True)


def link(token: str, task_id: int | None = None) -> str:
    """The path of a message's link: it marks the message read, then opens the step (or the app)."""
    path = f"/r/{token}/"
    return f"{path}?to={task_id}" if task_id else path


@dataclass
class Opened:
    reminder: Reminder
    first_time: bool


def read_token(token: str, *, max_age_days: int | None = None) -> tuple[int, int]:
    """The (reminder id, patient id) a token names. Raises ReceiptError when tampered with or expired."""
    max_age = (max_age_days if max_age_days is not None else settings.RECEIPT_TOKEN_MAX_AGE_DAYS) * 86400
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(token or "", max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ReceiptError("This link has expired.") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise ReceiptError("This link is not valid.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("p"), int):
        raise ReceiptError("This link is not valid.")
    return data["r"], data["p"]


@transaction.atomic
def reminder_mark_opened(*, token: str, patient_id: int | None = None, now: datetime | None = None) -> Opened:
    """Record that the patient opened the message the token names (opening again keeps the first time).

    `patient_id` is the signed-in patient, if any: a token of another patient's message is
    refused exactly like one that does not exist. The message's inbox copy is read too.
    Raises ReceiptError or Reminder.DoesNotExist.
    """
    reminder_id, owner_id = read_token(token)
    if patient_id is not None and patient_id != owner_id:
        raise Reminder.DoesNotExist("not this patient's message")
    reminder = Reminder.objects.select_for_update().get(id=reminder_id, patient_id=owner_id)
    first = reminder.read_at is None
    if first:
        reminder.read_at = now or timezone.now()
        reminder.save(update_fields=["read_at", "updated_at"])
    return Opened(reminder, first)


def note_inbox_read(*, message: InboxMessage) -> None:
    """A message read in the app's inbox is a receipt for its reminder as well."""
    if message.reminder_id and message.read_at:
        Reminder.objects.filter(id=message.reminder_id, read_at__isnull=True).update(read_at=message.read_at)
