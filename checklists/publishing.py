"""Verbs that change protocols: publish a protocol file's version, copy a version as a draft, publish a draft. Each runs in one transaction; a published version never changes afterwards."""

from __future__ import annotations

import copy
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from checklists.models import Protocol, ProtocolVersion, TaskDefinition
from checklists.protocol_files import VERSION_FIELDS, ProtocolFileError, check_stored_version, content_hash

DEFINITION_FIELDS = (
    "key", "category", "title", "instructions", "why", "source_section", "offset_days",
    "window_start_days", "window_end_days", "applies_if", "sub_items", "targets",
    "reminder_rules", "translations", "min_lead_days", "lead_reason", "critical", "escalate_after_days",
    "stop", "stop_today", "shows_answers_of",
)


@transaction.atomic
def protocol_publish(*, parsed: dict, organization=None, source: str = "") -> tuple[ProtocolVersion, bool]:
    """Store a validated protocol document as a new version, unless its content is unchanged.

    Returns the current version and whether it was created. Existing versions are never
    edited, so checklists assigned from them keep exactly what was assigned.
    """
    protocol, _ = Protocol.objects.select_for_update().get_or_create(
        key=parsed["key"],
        defaults={"name": parsed["name"], "procedure": parsed["procedure"], "organization": organization},
    )
    digest = content_hash(parsed)
    latest = protocol.versions.order_by("-number").first()
    if latest and latest.content_hash == digest:
        return latest, False
    if (protocol.name, protocol.procedure) != (parsed["name"], parsed["procedure"]):
        protocol.name, protocol.procedure = parsed["name"], parsed["procedure"]
        protocol.save(update_fields=["name", "procedure"])
    version = ProtocolVersion.objects.create(
        protocol=protocol,
        number=(latest.number + 1) if latest else 1,
        content_hash=digest,
        source=source or parsed.get("source", ""),
        published_at=timezone.now(),
        **{field: parsed.get(field) or empty for field, empty in VERSION_FIELDS.items()},
    )
    TaskDefinition.objects.bulk_create(
        TaskDefinition(version=version, position=i, **{f: task[f] for f in DEFINITION_FIELDS})
        for i, task in enumerate(parsed["tasks"])
    )
    return version, True


@transaction.atomic
def protocol_version_draft(*, version: ProtocolVersion) -> ProtocolVersion:
    """Copy a version, steps and all, into a new draft a clinical lead can edit before publishing."""
    protocol = Protocol.objects.select_for_update().get(pk=version.protocol_id)
    last = protocol.versions.order_by("-number").first()
    draft = ProtocolVersion.objects.create(
        protocol=protocol, number=last.number + 1, source=f"copy of v{version.number}", published_at=None,
        # Deep copies: editing the draft's stages, rules or steps must never touch the published version.
        **{field: copy.deepcopy(getattr(version, field)) for field in VERSION_FIELDS},
    )
    TaskDefinition.objects.bulk_create(
        TaskDefinition(version=draft, position=d.position,
                       **{f: copy.deepcopy(getattr(d, f)) for f in DEFINITION_FIELDS})
        for d in version.definitions.order_by("position")
    )
    return draft


@transaction.atomic
def protocol_version_publish(*, version: ProtocolVersion, now: datetime | None = None) -> ProtocolVersion:
    """Publish a draft: from now on it is frozen, and new checklists get it by default."""
    version = ProtocolVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError({"version": f"Version {version.number} is already published."})
    definitions = list(version.definitions.all())
    if not definitions:
        raise ValidationError({"version": "A version without steps cannot be published."})
    for definition in definitions:
        definition.full_clean(exclude=["version"], validate_unique=False)
        low, high = definition.window_start_days, definition.window_end_days
        if low is not None and not low <= definition.offset_days <= high:
            raise ValidationError(
                {"version": f"{definition.key}: the due day {definition.offset_days} lies outside its window {low}..{high}."}
            )
    version.published_at = now or timezone.now()
    # The same fingerprint the protocol files get, so loading a file with identical content
    # later recognises this version instead of publishing a copy of it.
    rows = [{f: getattr(d, f) for f in DEFINITION_FIELDS} for d in sorted(definitions, key=lambda d: d.position)]
    try:
        # The steps may have changed in the draft: its recovery stages, rules, warning signs and
        # check-in questions must still fit them, as a protocol file's would.
        check_stored_version({field: getattr(version, field) for field in VERSION_FIELDS}, rows, where="version")
    except ProtocolFileError as exc:
        raise ValidationError({"version": str(exc)}) from exc
    protocol = version.protocol
    version.content_hash = content_hash(
        {"name": protocol.name, "procedure": protocol.procedure, "tasks": rows,
         **{field: getattr(version, field) for field in VERSION_FIELDS}}
    )
    version.save(update_fields=["published_at", "content_hash"])
    return version


@transaction.atomic
def protocol_version_draft_for_organization(*, version: ProtocolVersion, organization) -> ProtocolVersion:
    """Copy a shipped version into a draft of the organization's own copy of its protocol.

    The copy (made on first use) is keyed `<shipped key>-<organization slug>`; its version
    numbers go on from the version copied, so a copy of v1 is that organization's v2.
    """
    shipped = version.protocol
    key = f"{shipped.key}-{organization.slug}"[:80]
    if Protocol.objects.filter(key=key).exclude(organization=organization).exists():
        raise ValidationError(f"The protocol key {key} is taken by another organization's protocol.")
    own, _ = Protocol.objects.get_or_create(
        key=key,
        organization=organization,
        defaults={"name": f"{shipped.name} ({organization.name})"[:200], "procedure": shipped.procedure},
    )
    own = Protocol.objects.select_for_update().get(pk=own.pk)
    last = own.versions.order_by("-number").first()
    draft = ProtocolVersion.objects.create(
        protocol=own,
        number=(last.number if last else version.number) + 1,
        source=f"copy of {shipped.key} v{version.number}",
        published_at=None,
        **{field: copy.deepcopy(getattr(version, field)) for field in VERSION_FIELDS},
    )
    TaskDefinition.objects.bulk_create(
        TaskDefinition(version=draft, position=d.position, **{f: copy.deepcopy(getattr(d, f)) for f in DEFINITION_FIELDS})
        for d in version.definitions.order_by("position")
    )
    return draft
