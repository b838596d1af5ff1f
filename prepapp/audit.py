"""The audit trail: every read or change of a patient's record by staff leaves an entry."""

from __future__ import annotations

import ipaddress

from django.utils import timezone

from prepapp.lib.client_address import client_ip
from prepapp.models import AuditEntry, Patient, patient_reference


def audit_record(*, actor, patients, action: str, path: str = "", request=None, ip: str = "") -> None:
    """Note that a member of staff read or changed these patients' records (inside the caller's transaction).

    `patients` are Patient objects or their ids, each noted once. With `request`, the client's
    address and the path come from it unless given.
    """
    if request is not None:
        ip = ip or client_ip(request)
        path = path or request.get_full_path()
    organization_of = {}
    for p in patients:
        organization_of[getattr(p, "pk", p)] = p.organization_id if isinstance(p, Patient) else None
    missing = [pk for pk, organization_id in organization_of.items() if organization_id is None]
    if missing:
        organization_of.update(Patient.objects.filter(pk__in=missing).values_list("pk", "organization_id"))
    now = timezone.now()
    address = _valid_address(ip)
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=actor, patient_id=pk, patient_ref=patient_reference(pk), organization_id=organization_id,
            action=action, path=path[:300], ip_address=address, at=now,
        )
        for pk, organization_id in organization_of.items()
    )


def _valid_address(value: str) -> str | None:
    # A forwarded header can carry anything; the entry keeps only a real address (or none).
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def audit_staff_change(*, actor, organization, action: str, path: str = "", ip: str = "") -> None:
    """Note a change one member of staff made to another's sign-in (no patient's record: no patient)."""
    AuditEntry.objects.create(
        actor=actor, organization=organization, action=action, path=path[:300], ip_address=_valid_address(ip),
    )
