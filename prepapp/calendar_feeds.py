"""The verbs of a private calendar feed: make a new address, choose what it shows, turn it off, find it by its secret.

Each verb runs in one transaction. The secret is 256 random bits, so a plain SHA-256 is as
good as a keyed hash: a copy of the database alone does not give an address away.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from prepapp.models import CalendarFeed, Patient

DETAIL_CHOICES = CalendarFeed.Detail.values


def feed_token_digest(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _check_detail(detail: str) -> str:
    if detail not in DETAIL_CHOICES:
        raise ValidationError({"detail": f"Use one of {', '.join(DETAIL_CHOICES)}."})
    return detail


@transaction.atomic
def calendar_feed_renew(*, patient: Patient, owner, detail: str | None = None,
                        now: datetime | None = None) -> tuple[CalendarFeed, str]:
    """A new feed address for `owner` to follow `patient`'s dates; any earlier address of theirs stops working.

    Returns the feed and its secret, which is not stored: the caller shows it once.
    Keeps the earlier choice of detail unless `detail` is given.
    """
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.select_for_update().filter(patient=patient, owner=owner).first()
    if feed is None:
        feed = CalendarFeed(patient=patient, owner=owner)
    if detail is not None:
        feed.detail = _check_detail(detail)
    feed.token_hash = feed_token_digest(token)
    feed.created_at = now or timezone.now()
    feed.last_fetched_at = None
    feed.save()
    return feed, token


@transaction.atomic
def calendar_feed_set_detail(*, feed: CalendarFeed, detail: str) -> CalendarFeed:
    """Choose what the feed's events say; the address stays the same."""
    feed.detail = _check_detail(detail)
    feed.save(update_fields=["detail"])
    return feed


@transaction.atomic
def calendar_feed_revoke(*, patient: Patient, owner) -> bool:
    """Turn the feed off: its address answers 404 from now on. Returns whether there was one."""
    removed, _ = CalendarFeed.objects.filter(patient=patient, owner=owner).delete()
    return bool(removed)


def calendar_feed_of(*, patient: Patient, owner) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(patient=patient, owner=owner).first()


def calendar_feed_by_token(token: str) -> CalendarFeed | None:
    """The feed whose address holds this secret, or None (wrong, replaced or turned off).

    An account that can no longer sign in (archived patient, removed login) has no feed
    either: the address is a credential like any other.
    """
    if not token or len(token) > 100:
        return None
    return (
        CalendarFeed.objects.select_related("patient", "owner")
        .filter(token_hash=feed_token_digest(token), owner__is_active=True)
        .exclude(patient__status=Patient.Status.ARCHIVED)
        .first()
    )


@transaction.atomic
def calendar_feed_note_fetch(*, feed: CalendarFeed, now: datetime | None = None) -> None:
    """Note when a calendar last fetched the feed (shown to the patient: "last read by a calendar")."""
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now or timezone.now())
