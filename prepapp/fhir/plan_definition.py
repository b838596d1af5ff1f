"""Protocol versions as FHIR PlanDefinitions, out and back in.

Each step is an action, timed from the surgery action: `relatedAction` with its offset in days
(before-start, after-start, or concurrent-with-start for the surgery day), its window as
`timingRange` (days from the surgery, negative before it), its applicability as `condition`
expressions over the patient's facts (`%facts.smoker = true`), its category as a code, its
"why" as `reason`, where it comes from in the guide as `documentation`, its sub-items as
nested actions, and every text in both languages through HL7's translation extension.

What FHIR has no element for travels in the service's own extensions, whose values are the
protocol's own JSON: the reminders' rules and the rest of a step's settings on each action; the
preparation span, recovery stages, rules in force, warning signs and check-in on the
PlanDefinition. Importing an exported PlanDefinition (plan_definition_import) publishes a
version whose steps, windows, rules and texts are those exported.
"""

from __future__ import annotations

import json
import re

from django.core.exceptions import ValidationError
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.duration import Duration
from fhir.resources.R4B.expression import Expression
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.plandefinition import (
    PlanDefinition,
    PlanDefinitionAction,
    PlanDefinitionActionCondition,
    PlanDefinitionActionRelatedAction,
)
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.range import Range
from fhir.resources.R4B.relatedartifact import RelatedArtifact

from checklists.models import Category, ProtocolVersion
from checklists.protocol_files import VERSION_FIELDS, ProtocolFileError, check_stored_version
from checklists.publishing import DEFINITION_FIELDS, protocol_publish
from prepapp.fhir import codes

PROTOCOL_SYSTEM = f"{codes.NAMESPACE}:protocol"
PLAN_TYPE = Coding(system="http://terminology.hl7.org/CodeSystem/plan-definition-type", code="clinical-protocol")
SURGERY_ACTION = "surgery"
# The step's own translated texts that have a FHIR element (the others travel in "step-settings").
NATIVE_TEXTS = ("title", "instructions", "why", "sub_items")
# A step's settings with no FHIR element, carried as JSON in the "step-settings" extension.
STEP_SETTINGS = (
    "targets", "min_lead_days", "lead_reason", "escalate_after_days", "stop", "stop_today", "shows_answers_of",
)
# The version's structured parts, each in an extension of this name.
VERSION_EXTENSIONS = {
    "preparation_weeks": "preparation-weeks", "recovery_stages": "recovery-stages", "rules": "rules-in-force",
    "warning_signs": "warning-signs", "check_in": "check-in", "about": "about-your-surgery", "glossary": "glossary",
}
FACT_TERM = re.compile(r"^%facts\.([a-z_]+) = (true|false)$")


class PlanDefinitionRefused(Exception):
    """A PlanDefinition that cannot become a protocol version: `field` says where, the message what."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _json_extension(name: str, value) -> Extension:
    return Extension(url=codes.extension_url(name), valueString=json.dumps(value, sort_keys=True, ensure_ascii=False))


def _days(value: int) -> Quantity:
    return Quantity(value=value, unit="days", system=codes.UNITS, code="d")


def _texts(translations: dict, field: str) -> dict[str, str]:
    """{language: text} of one translated field."""
    return {language: texts[field] for language, texts in translations.items() if texts.get(field)}


def _applicability(applies_if: dict) -> list[PlanDefinitionActionCondition] | None:
    if not applies_if:
        return None
    expression = " and ".join(f"%facts.{fact} = {'true' if value else 'false'}" for fact, value in applies_if.items())
    return [PlanDefinitionActionCondition(
        kind="applicability", expression=Expression(language=codes.FACTS_LANGUAGE, expression=expression),
    )]


def _timing(offset: int) -> PlanDefinitionActionRelatedAction:
    if offset == 0:
        return PlanDefinitionActionRelatedAction(actionId=SURGERY_ACTION, relationship="concurrent-with-start")
    return PlanDefinitionActionRelatedAction(
        actionId=SURGERY_ACTION, relationship="before-start" if offset < 0 else "after-start",
        offsetDuration=Duration(value=abs(offset), unit="days", system=codes.UNITS, code="d"),
    )


def step_action(definition) -> PlanDefinitionAction:
    translations = definition.translations or {}
    sub_texts = {language: texts.get("sub_items", {}) for language, texts in translations.items()}
    leftover = {
        language: {k: v for k, v in texts.items() if k not in NATIVE_TEXTS}
        for language, texts in translations.items()
    }
    settings = {name: getattr(definition, name) for name in STEP_SETTINGS}
    window = None
    if definition.window_start_days is not None:
        window = Range(low=_days(definition.window_start_days), high=_days(definition.window_end_days))
    return PlanDefinitionAction(
        id=definition.key,
        title=definition.title,
        title__ext=codes.translations_ext(_texts(translations, "title")),
        description=definition.instructions,
        description__ext=codes.translations_ext(_texts(translations, "instructions")),
        code=[CodeableConcept(coding=[Coding(system=codes.STEP_CATEGORY_SYSTEM, code=definition.category)])],
        reason=[CodeableConcept(text=definition.why, text__ext=codes.translations_ext(_texts(translations, "why")))]
        if definition.why else None,
        documentation=[RelatedArtifact(type="documentation", display=definition.source_section)]
        if definition.source_section else None,
        priority="urgent" if definition.critical else "routine",
        condition=_applicability(definition.applies_if),
        relatedAction=[_timing(definition.offset_days)],
        timingRange=window,
        action=[
            PlanDefinitionAction(
                id=item["key"], title=item["text"],
                title__ext=codes.translations_ext(
                    {lang: texts[item["key"]] for lang, texts in sub_texts.items() if texts.get(item["key"])}
                ),
            )
            for item in definition.sub_items
        ] or None,
        extension=[
            _json_extension("reminder-rules", definition.reminder_rules),
            _json_extension("step-settings", settings),
            _json_extension("step-translations", {k: v for k, v in leftover.items() if v}),
        ],
    )


def plan_definition_resource(version: ProtocolVersion) -> PlanDefinition:
    """A protocol version as a PlanDefinition: the surgery action first, then every step in order."""
    protocol = version.protocol
    translations = version.translations or {}
    leftover = {
        language: {k: v for k, v in texts.items() if k not in ("summary", "procedure")}
        for language, texts in translations.items()
    }
    return PlanDefinition(
        id=str(version.pk),
        meta=codes.meta(version.published_at or version.created_at),
        url=codes.plan_definition_url(protocol.key),
        identifier=[Identifier(system=PROTOCOL_SYSTEM, value=protocol.key)],
        version=str(version.number),
        name=re.sub(r"[^A-Za-z0-9]", "", protocol.key.title()),
        title=protocol.name,
        subtitle=protocol.procedure,
        subtitle__ext=codes.translations_ext(_texts(translations, "procedure")),
        type=CodeableConcept(coding=[PLAN_TYPE]),
        status="draft" if version.is_draft else "active",
        date=version.published_at or version.created_at,
        description=version.summary or None,
        description__ext=codes.translations_ext(_texts(translations, "summary")),
        relatedArtifact=[RelatedArtifact(type="documentation", display=version.source)] if version.source else None,
        extension=[_json_extension(name, getattr(version, field)) for field, name in VERSION_EXTENSIONS.items()]
        + [_json_extension("version-translations", {k: v for k, v in leftover.items() if v})],
        action=[PlanDefinitionAction(id=SURGERY_ACTION, title="Surgery")]
        + [step_action(d) for d in version.definitions.order_by("position", "id")],
    )


# --- In ------------------------------------------------------------------------------------------


def _json_value(extensions, name: str, where: str, default):
    raw = codes.extension_value(extensions, name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise PlanDefinitionRefused(where, f"the {codes.extension_url(name)} extension does not hold JSON") from None


def _merge_texts(translations: dict, field: str, texts: dict[str, str]) -> None:
    for language, text in texts.items():
        translations.setdefault(language, {})[field] = text


def _offset(action: PlanDefinitionAction, where: str) -> int:
    timing = next((r for r in action.relatedAction or [] if r.actionId == SURGERY_ACTION), None)
    if timing is None:
        raise PlanDefinitionRefused(f"{where}.relatedAction", "the step is not timed from the surgery action")
    if timing.relationship == "concurrent-with-start":
        return 0
    if timing.relationship not in ("before-start", "after-start") or timing.offsetDuration is None:
        raise PlanDefinitionRefused(
            f"{where}.relatedAction", "use before-start or after-start with an offsetDuration, or concurrent-with-start"
        )
    days = int(timing.offsetDuration.value)
    return -days if timing.relationship == "before-start" else days


def _applies_if(action: PlanDefinitionAction, where: str) -> dict:
    facts = {}
    for i, condition in enumerate(action.condition or []):
        expression = condition.expression.expression if condition.expression else ""
        for term in (expression or "").split(" and "):
            match = FACT_TERM.match(term.strip())
            if not match:
                raise PlanDefinitionRefused(f"{where}.condition[{i}].expression", f"cannot read {term!r}")
            facts[match[1]] = match[2] == "true"
    return facts


def _step(action: PlanDefinitionAction, where: str) -> dict:
    if not action.id or not action.title or not action.description:
        raise PlanDefinitionRefused(where, "a step needs an id, a title and a description")
    category = next(
        (c.code for concept in action.code or [] for c in concept.coding or [] if c.system == codes.STEP_CATEGORY_SYSTEM),
        None,
    )
    if category not in Category.values:
        raise PlanDefinitionRefused(f"{where}.code", f"no step category of {codes.STEP_CATEGORY_SYSTEM}")
    translations = _json_value(action.extension, "step-translations", where, {})
    _merge_texts(translations, "title", codes.translations_of(action.title__ext))
    _merge_texts(translations, "instructions", codes.translations_of(action.description__ext))
    why = action.reason[0] if action.reason else None
    if why is not None:
        _merge_texts(translations, "why", codes.translations_of(why.text__ext))
    sub_items = []
    for item in action.action or []:
        sub_items.append({"key": item.id, "text": item.title})
        for language, text in codes.translations_of(item.title__ext).items():
            translations.setdefault(language, {}).setdefault("sub_items", {})[item.id] = text
    window = action.timingRange
    settings = _json_value(action.extension, "step-settings", where, {})
    row = {
        "key": action.id,
        "category": category,
        "title": action.title,
        "instructions": action.description,
        "why": why.text if why is not None else "",
        "source_section": action.documentation[0].display if action.documentation else "",
        "offset_days": _offset(action, where),
        "window_start_days": int(window.low.value) if window and window.low else None,
        "window_end_days": int(window.high.value) if window and window.high else None,
        "applies_if": _applies_if(action, where),
        "sub_items": sub_items,
        "reminder_rules": _json_value(action.extension, "reminder-rules", where, []),
        "translations": translations,
        "critical": action.priority == "urgent",
        **{name: settings.get(name) for name in STEP_SETTINGS},
    }
    row["targets"] = row["targets"] or []
    row["shows_answers_of"] = row["shows_answers_of"] or {}
    row["stop"] = bool(row["stop"])
    row["lead_reason"] = row["lead_reason"] or ""
    row["stop_today"] = row["stop_today"] or ""
    return {field: row[field] for field in DEFINITION_FIELDS}


def parsed_protocol(resource: PlanDefinition) -> dict:
    """The PlanDefinition as the parsed protocol document that protocol_publish stores."""
    key = next((i.value for i in resource.identifier or [] if i.system == PROTOCOL_SYSTEM), None)
    if not key:
        raise PlanDefinitionRefused("identifier", f"no identifier of system {PROTOCOL_SYSTEM} names the protocol")
    if not resource.title or not resource.subtitle:
        raise PlanDefinitionRefused("title", "the title (the protocol's name) and subtitle (its procedure) are needed")
    fields = {
        field: _json_value(resource.extension, name, "extension", VERSION_FIELDS[field])
        for field, name in VERSION_EXTENSIONS.items()
    }
    translations = _json_value(resource.extension, "version-translations", "extension", {})
    _merge_texts(translations, "summary", codes.translations_of(resource.description__ext))
    _merge_texts(translations, "procedure", codes.translations_of(resource.subtitle__ext))
    fields.update(summary=resource.description or "", translations=translations)
    steps = [a for a in resource.action or [] if a.id != SURGERY_ACTION]
    if not steps:
        raise PlanDefinitionRefused("action", "no step besides the surgery")
    tasks = [_step(action, f"action[{i + 1}]") for i, action in enumerate(steps)]
    try:
        check_stored_version(fields, tasks, where="PlanDefinition")
    except ProtocolFileError as exc:
        raise PlanDefinitionRefused("action", str(exc)) from exc
    source = resource.relatedArtifact[0].display if resource.relatedArtifact else ""
    return {"key": key, "name": resource.title, "procedure": resource.subtitle, "source": source, "tasks": tasks,
            **fields}


def plan_definition_import(*, resource: PlanDefinition, organization=None) -> tuple[ProtocolVersion, bool]:
    """Publish a PlanDefinition as a protocol version (one transaction, protocol_publish's).

    Returns the version and whether it was new: the same content again is recognised as the
    version it already is.
    """
    parsed = parsed_protocol(resource)
    try:
        return protocol_publish(parsed=parsed, organization=organization, source=parsed["source"])
    except ValidationError as exc:
        raise PlanDefinitionRefused("PlanDefinition", " ".join(exc.messages)) from exc
