"""Pull mode's reading side: a hospital FHIR server's changed surgeries, fetched with fhirpy.

One poll asks `Appointment?date=ge<today>&_lastUpdated=gt<watermark>&_include=Appointment:patient`,
follows the searchset's `next` links page by page, and reads any Patient an appointment
points at that the server did not include. Nothing is written here: the result goes to the
import (prepapp.fhir.pull) only once every page has been read. The server's own time of the
search (the first page's `meta.lastUpdated` or `timestamp`, else the newest appointment's
`meta.lastUpdated`) becomes the next watermark, never this machine's clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import (
    AuthorizationError,
    BaseFHIRError,
    ForbiddenError,
    InvalidResponse,
    OperationOutcome,
    ResourceNotFound,
)

PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})$")


class PullFailed(Exception):
    """A poll that could not be read whole; the message says why, in words for the admin."""


@dataclass
class Fetched:
    appointments: list[dict] = field(default_factory=list)  # latest version of each, in the order first seen
    patients: dict[str, dict] = field(default_factory=dict)  # the server's Patient id -> the resource
    server_time: datetime | None = None
    pages: int = 0


def fetch_schedule(*, base_url: str, token: str, since: datetime | None, today: date) -> Fetched:
    """Every page of the search, and the patients they point at; PullFailed if any part cannot be read."""
    client = SyncFHIRClient(
        base_url.rstrip("/"), authorization=f"Bearer {token}" if token else None,
        # A redirect would carry the token elsewhere; a server that answers slowly is a failed poll.
        requests_config={"timeout": settings.FHIR_PULL_TIMEOUT_SECONDS, "allow_redirects": False},
    )
    search = (client.resources("Appointment").search(date__ge=today).include("Appointment", "patient")
              .limit(settings.FHIR_PULL_PAGE_SIZE))
    if since is not None:
        # A little before the watermark: what the server stamped just before it but committed after is read
        # again rather than missed (reading a change twice changes nothing).
        # Written out to the millisecond (fhirpy's own formatting keeps whole seconds, which would read the last
        # second's changes again on every poll); cut, never rounded up, so nothing after the watermark is skipped.
        after = (since - timedelta(seconds=settings.FHIR_PULL_OVERLAP_SECONDS)).astimezone(dt_timezone.utc)
        search = search.search(_lastUpdated=f"gt{after.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}")
    fetched, by_id, seen_links = Fetched(), {}, set()
    try:
        page = search.fetch_raw()
        fetched.server_time = _instant(page.get("meta", {}).get("lastUpdated")) or _instant(page.get("timestamp"))
        while True:
            fetched.pages += 1
            _take_page(page, fetched, by_id)
            next_url = next((link.get("url") for link in page.get("link") or [] if link.get("relation") == "next"),
                            None)
            if not next_url:
                break
            if next_url in seen_links or fetched.pages >= settings.FHIR_PULL_MAX_PAGES:
                raise PullFailed(f"the server's next links did not end after {fetched.pages} pages")
            seen_links.add(next_url)
            next_url = urljoin(base_url.rstrip("/") + "/", next_url)
            # The token goes with every request: never to an address outside the configured server.
            if not next_url.startswith(base_url.rstrip("/") + "/"):
                raise PullFailed("the server's next link points outside its base address")
            page = _plain(client.execute(next_url, method="get"))
        fetched.appointments = list(by_id.values())
        for patient_id in _missing_patients(fetched):
            fetched.patients[patient_id] = _plain(client.get("Patient", patient_id))
    except requests.Timeout:
        raise PullFailed(f"the server did not answer within {settings.FHIR_PULL_TIMEOUT_SECONDS} s") from None
    except requests.RequestException as exc:
        raise PullFailed(f"could not reach the server ({exc.__class__.__name__})") from None
    except AuthorizationError:
        raise PullFailed("the server answered 401: the token is missing, wrong or expired") from None
    except ForbiddenError:
        raise PullFailed("the server answered 403: the token may not read Appointment and Patient") from None
    except ResourceNotFound:
        raise PullFailed("the server answered 404: check the base address (and that the patients exist)") from None
    except OperationOutcome as exc:
        raise PullFailed(f"the server answered an error: {_diagnostics(exc)}") from None
    except (InvalidResponse, BaseFHIRError) as exc:
        raise PullFailed(f"the server's answer is not a FHIR search result: {str(exc)[:200]}") from None
    except (ValueError, AttributeError, TypeError) as exc:  # bad JSON (JSONDecodeError), a body of another shape
        raise PullFailed(f"the server's answer could not be read ({exc.__class__.__name__})") from None
    if fetched.server_time is None:
        stamps = [_instant((a.get("meta") or {}).get("lastUpdated")) for a in fetched.appointments]
        fetched.server_time = max((s for s in stamps if s is not None), default=None)
    return fetched


def _plain(data) -> dict:
    """fhirpy's answers (its AttrDicts and resources) as plain JSON data, as fhir.resources reads it."""
    return json.loads(json.dumps(data.serialize() if hasattr(data, "serialize") else data))


def _take_page(page, fetched: Fetched, by_id: dict) -> None:
    if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
        raise PullFailed("the server's answer is not a Bundle")
    for entry in page.get("entry") or []:
        resource = _plain(entry.get("resource") or {})
        kind, rid = resource.get("resourceType"), resource.get("id")
        if kind == "Appointment":
            # Paging may show one twice (it changed meanwhile): its latest version counts.
            key = rid or f"#{len(by_id)}"
            if key not in by_id or _stamp(resource) >= _stamp(by_id[key]):
                by_id[key] = resource
        elif kind == "Patient" and rid:
            fetched.patients[rid] = resource


def _stamp(resource: dict) -> datetime:
    return _instant((resource.get("meta") or {}).get("lastUpdated")) or datetime.min.replace(tzinfo=dt_timezone.utc)


def patient_ids_of(appointment: dict) -> list[str]:
    """The server's ids of the patients an appointment's participants name (Patient/<id> or …/Patient/<id>)."""
    ids = []
    for participant in appointment.get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        ref = actor.get("reference") if isinstance(actor, dict) else None
        match = PATIENT_REFERENCE.search(ref) if isinstance(ref, str) else None
        if match:
            ids.append(match[1])
    return ids


def _missing_patients(fetched: Fetched) -> list[str]:
    wanted = {pid for a in fetched.appointments for pid in patient_ids_of(a)}
    return sorted(wanted - set(fetched.patients))


def _instant(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _diagnostics(exc: OperationOutcome) -> str:
    issues = (exc.resource or {}).get("issue") or [{}]
    text = issues[0].get("diagnostics") or issues[0].get("code") or "no details"
    return " ".join(str(text).split())[:200]
