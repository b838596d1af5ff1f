"""Verbs on the patient's side of reminders: reading the inbox, subscribing a browser to Web Push."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from prepapp.models import Patient
from prepapp.reminders import receipts
from prepapp.reminders.models import InboxMessage, PushSubscription


@transaction.atomic
def inbox_mark_read(*, patient: Patient, message_id: int, now: datetime | None = None) -> InboxMessage:
    """Mark one of the patient's messages read (reading it again keeps the first time). Raises DoesNotExist."""
    message = InboxMessage.objects.select_for_update().get(id=message_id, patient=patient)
    if message.read_at is None:
        message.read_at = now or timezone.now()
        message.save(update_fields=["read_at"])
        receipts.note_inbox_read(message=message)
    return message


@transaction.atomic
def inbox_mark_all_read(*, patient: Patient, now: datetime | None = None) -> int:
    """Mark every unread message of the patient read; returns how many changed."""
    return InboxMessage.objects.filter(patient=patient, read_at__isnull=True).update(read_at=now or timezone.now())


@transaction.atomic
def push_subscribe(
    *, patient: Patient, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[PushSubscription | None, bool]:
    """Record a browser's push subscription; subscribing the same endpoint again updates it.

    Returns (subscription, created). An endpoint already registered to another patient is
    left where it is and (None, True) comes back: the caller answers exactly as for a new
    subscription, so nobody learns whose endpoint it is, and nobody can move another
    patient's phone to themselves. (A phone whose patient changed signs out first, and
    signing out forgets the subscription.)
    """
    existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
    if existing is not None and existing.patient_id != patient.pk:
        return None, True
    defaults = {"patient": patient, "p256dh": p256dh, "auth": auth}
    if user_agent:
        defaults["user_agent"] = user_agent[:300]
    return PushSubscription.objects.update_or_create(endpoint=endpoint, defaults=defaults)


@transaction.atomic
def push_unsubscribe(*, patient: Patient, subscription_id: int | None = None, endpoint: str | None = None) -> int:
    """Forget one of the patient's subscriptions, by id or by endpoint; returns how many were removed."""
    qs = PushSubscription.objects.filter(patient=patient)
    if subscription_id is not None:
        qs = qs.filter(id=subscription_id)
    elif endpoint:
        qs = qs.filter(endpoint=endpoint)
    else:
        return 0
    deleted, _ = qs.delete()
    return deleted
