"""Pull mode: poll a hospital's FHIR server (FhirSource) and feed its schedule to the import.

For EHRs that do not post their schedule. A poll:

1. takes the source by compare-and-set (a lease, `claimed_until`), so that two beat ticks,
   or beat and the admin's "poll now", never poll one source at once;
2. reads every page of the changed appointments and their patients (prepapp.fhir.pull_fetch),
   holding no transaction while it waits on the network;
3. hands them, as one batch Bundle, to the very reading and import a posted bundle goes
   through (bundle_reading.read_bundle, schedule_import.schedule_import): matching, the
   same-twice-changes-nothing rule, refusals and telling the patient of a move are theirs;
4. in the import's own transaction, moves the watermark to the server's time of the search
   and notes the counts. Any failure (the server down, an error answer, bad JSON, a bad
   entry) writes nothing of the import, keeps the watermark, and is noted as the source's
   last error; the next poll asks again from the same point.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from prepapp.fhir.bundle_reading import BundleRefused, read_bundle
from prepapp.fhir.models import FhirSource
from prepapp.fhir.pull_fetch import Fetched, PullFailed, fetch_schedule, patient_ids_of
from prepapp.fhir.schedule_import import EntryResult, schedule_import
from prepapp.lib.sealed import SealBroken, unseal

logger = logging.getLogger(__name__)
ERROR_LENGTH = 1000


@dataclass
class PollResult:
    """What one poll did: `error` is empty when it was imported whole."""

    error: str = ""
    appointments: int = 0
    patients: int = 0
    created: int = 0
    changed: int = 0
    held: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


class LeaseLost(Exception):
    """The poll outlived its lease and another one may have taken the source: this one is undone."""


def sources_to_poll(*, now: datetime | None = None) -> list[int]:
    """The enabled sources no poll holds now (the poll itself claims each one again, by compare-and-set)."""
    now = now or timezone.now()
    return list(
        FhirSource.objects.filter(enabled=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).order_by("id").values_list("id", flat=True)
    )


def _claim(source_id: int, now: datetime) -> str | None:
    token = secrets.token_hex(16)
    taken = FhirSource.objects.filter(pk=source_id, enabled=True).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ).update(claimed_until=now + timedelta(seconds=settings.FHIR_PULL_LEASE_SECONDS), claim_token=token)
    return token if taken else None


def source_poll(*, source_id: int, now: datetime | None = None) -> PollResult | None:
    """Poll one source; None when it is disabled or another poll holds it."""
    now = now or timezone.now()
    token = _claim(source_id, now)
    if token is None:
        return None
    source = FhirSource.objects.select_related("organization", "user").get(pk=source_id)
    names: list[str] = []
    try:
        fetched = fetch_schedule(
            base_url=source.base_url, token=unseal(source.sealed_token), since=source.watermark,
            today=timezone.localdate(now, timezone=ZoneInfo(source.organization.time_zone)),
        )
        data, names = as_bundle(fetched, source.base_url)
        _bundle, patients, appointments = read_bundle(data)
        known = {key for p in patients for key in p.keys}
        for appointment in appointments:
            # Patient/<id> here is the hospital's id: never one of this service's own patients.
            if appointment.patient_ref not in known:
                raise BundleRefused(appointment.index, "participant",
                                    f"{appointment.patient_ref} could not be read from the server")
        with transaction.atomic():
            results = schedule_import(organization=source.organization, actor=source.user, patients=patients,
                                      appointments=appointments, via=f"fhir-pull:{source.pk}")
            result = _counts(fetched, results)
            _record_success(source, token, fetched, result, now=timezone.now())
        return result
    except BundleRefused as refused:
        error = _where(refused, names)
    except (PullFailed, SealBroken) as exc:
        error = str(exc)
    except SoftTimeLimitExceeded:
        error = "the poll took longer than a task may run; the next one asks again"
    except LeaseLost:
        logger.warning("The poll of FHIR source %s outlived its lease; it was undone.", source_id)
        return PollResult(error="the poll took longer than its lease and was undone; the next one asks again")
    except Exception as exc:  # a bug must not leave the source claimed or its state silent
        logger.exception("The poll of FHIR source %s failed unexpectedly.", source_id)
        error = f"unexpected error ({exc.__class__.__name__}); the worker's log has the details"
    _record_failure(source, token, error, now=timezone.now())
    return PollResult(error=error)


def as_bundle(fetched: Fetched, base_url: str) -> tuple[dict, list[str]]:
    """The poll's resources as a batch Bundle for read_bundle, and what each entry is (for error messages)."""
    base = base_url.rstrip("/")
    entries, names = [], []
    for pid, patient in fetched.patients.items():
        entries.append({"fullUrl": f"{base}/Patient/{pid}", "resource": patient,
                        "request": {"method": "PUT", "url": f"Patient/{pid}"}})
        names.append(f"Patient/{pid}")
    wanted = {pid for a in fetched.appointments for pid in patient_ids_of(a)}
    # Only the patients the appointments point at: an included Patient of nothing here is not enrolled.
    keep = [i for i, name in enumerate(names) if name.removeprefix("Patient/") in wanted]
    entries, names = [entries[i] for i in keep], [names[i] for i in keep]
    for appointment in fetched.appointments:
        aid = appointment.get("id") or "(no id)"
        entries.append({"fullUrl": f"{base}/Appointment/{aid}", "resource": appointment,
                        "request": {"method": "PUT", "url": f"Appointment/{aid}"}})
        names.append(f"Appointment/{aid}")
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}, names


def _where(refused: BundleRefused, names: list[str]) -> str:
    if refused.entry is not None and refused.entry < len(names):
        return f"{names[refused.entry]} ({refused.field}): {refused.message}"
    return str(refused)


def _counts(fetched: Fetched, results: list[EntryResult]) -> PollResult:
    return PollResult(
        appointments=len(fetched.appointments), patients=len(fetched.patients),
        created=sum(r.status.startswith("201") for r in results),
        changed=sum(r.changed and not r.status.startswith("201") for r in results),
        held=sum(r.held for r in results),
    )


def _record_success(source: FhirSource, token: str, fetched: Fetched, result: PollResult, *, now) -> None:
    # No server time at all (an empty answer without a timestamp): the watermark stays, nothing is skipped.
    watermark = fetched.server_time or source.watermark
    updated = FhirSource.objects.filter(pk=source.pk, claim_token=token).update(
        watermark=watermark, last_success_at=now, last_appointments=result.appointments,
        last_patients=result.patients, last_created=result.created, last_changed=result.changed,
        last_held=result.held, claimed_until=None, claim_token="",  # nosec B106  # the claim let go, no secret
    )
    if not updated:
        raise LeaseLost()


@transaction.atomic
def _record_failure(source: FhirSource, token: str, error: str, *, now) -> None:
    logger.warning("The poll of FHIR source %s failed: %s", source.pk, error)
    FhirSource.objects.filter(pk=source.pk, claim_token=token).update(  # nosec B106  # the claim let go, no secret
        last_error=error[:ERROR_LENGTH], last_error_at=now, claimed_until=None, claim_token="",
    )
