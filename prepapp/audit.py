"""The audit trail: every read or change of a patient's record by staff leaves an entry."""

from __future__ import annotations

from django.utils import timezone

from .models import AuditEntry


def audit_record(*, actor, patients, action: str, path: str = "") -> None:
    """Note that a member of staff read or changed these patients' records (inside the caller's transaction)."""
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(actor=actor, patient_id=getattr(p, "pk", p), action=action, path=path[:300], at=now)
        for p in patients
    )
