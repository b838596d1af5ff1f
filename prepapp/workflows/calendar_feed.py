"""A calendar feed's body for the patient it follows, read afresh at each fetch."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from checklists.calendar_feed import feed_calendar
from checklists.models import Checklist, RuleLift
from prepapp.models import CalendarFeed
from prepapp.selectors import case_current, plan_revision_of


def site_host() -> str:
    """The host name UIDs end with (RFC 5545 asks for a domain of the maker's)."""
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"


def feed_url(token: str) -> str:
    return f"{settings.SITE_URL}/api/v1/calendar/{token}.ics"


def webcal_url(token: str) -> str:
    """The same address with the webcal: scheme, which phones open in their calendar app to subscribe."""
    return "webcal://" + feed_url(token).split("://", 1)[-1]


def feed_body(feed: CalendarFeed, *, now: datetime | None = None) -> bytes:
    """The feed of the patient's current surgery, in the patient's language, with what the feed's owner chose to show."""
    patient = feed.patient
    # Read first: every event then carries a SEQUENCE no newer than what the body shows.
    sequence = plan_revision_of(patient)
    case = case_current(patient)
    checklist = (
        Checklist.objects.filter(case=case).select_related("protocol_version__protocol").first() if case else None
    )
    lifted = RuleLift.objects.filter(case=case).values_list("rule_key", flat=True) if case else []
    return feed_calendar(
        case=case, checklist=checklist, detail=feed.detail, language=patient.language, sequence=sequence,
        host=site_host(), site_url=settings.SITE_URL, lifted_keys=list(lifted), now=now,
    )
