"""Verbs on the patient's and the caregiver's side of reminders: reading the inbox, subscribing a browser to Web Push."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from prepapp.models import CaregiverSettings, Patient
from prepapp.reminders import receipts
from prepapp.reminders.models import CaregiverPushSubscription, FamilyMessage, InboxMessage, PushSubscription


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


# --- A caregiver's side: their inbox about the patients they follow, their own phone's push ----


@transaction.atomic
def family_message_mark_read(*, caregiver, message_id: int, now: datetime | None = None) -> FamilyMessage:
    """Mark one of the caregiver's messages read, if it is about a patient they still follow. Raises DoesNotExist."""
    message = FamilyMessage.objects.select_for_update().get(
        id=message_id, caregiver__caregiver=caregiver, caregiver__revoked_at__isnull=True
    )
    if message.read_at is None:
        message.read_at = now or timezone.now()
        message.save(update_fields=["read_at"])
    return message


@transaction.atomic
def caregiver_push_subscribe(
    *, user, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[CaregiverPushSubscription | None, bool]:
    """Record the caregiver's own browser for Web Push (as `push_subscribe` does for a patient).

    An endpoint already registered to someone else (a patient's phone, another caregiver's)
    stays where it is and (None, True) comes back, so the caller answers as for a new one.
    Subscribing also turns the caregiver's push channel on: that is what they asked for.
    """
    if PushSubscription.objects.filter(endpoint=endpoint).exists():
        return None, True
    existing = CaregiverPushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
    if existing is not None and existing.user_id != user.pk:
        return None, True
    defaults = {"user": user, "p256dh": p256dh, "auth": auth}
    if user_agent:
        defaults["user_agent"] = user_agent[:300]
    found = CaregiverPushSubscription.objects.update_or_create(endpoint=endpoint, defaults=defaults)
    CaregiverSettings.objects.filter(user=user).update(push_enabled=True, updated_at=timezone.now())
    return found


@transaction.atomic
def caregiver_push_unsubscribe(*, user, endpoint: str) -> int:
    """Forget one of the caregiver's subscriptions by endpoint; returns how many were removed."""
    deleted, _ = CaregiverPushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return deleted
