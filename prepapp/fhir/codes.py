"""The names FHIR resources carry here: code systems, extension URLs, canonical URLs, and small builders.

The service's own code systems and extensions are logical names (URNs): they name the
service's concepts (a step's category, a reminder channel) wherever it is deployed, so an
exported PlanDefinition reads the same on every installation.
"""

from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.fhirprimitiveextension import FHIRPrimitiveExtension
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.reference import Reference

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"

# The service's own names.
NAMESPACE = "urn:prepapp:fhir"
STEP_CATEGORY_SYSTEM = f"{NAMESPACE}:step-category"
STEP_SYSTEM = f"{NAMESPACE}:step"
RULE_SYSTEM = f"{NAMESPACE}:rule"
CHANNEL_SYSTEM = f"{NAMESPACE}:reminder-channel"
PATIENT_ID_SYSTEM = f"{NAMESPACE}:patient-id"
CASE_ID_SYSTEM = f"{NAMESPACE}:surgery-id"
FACTS_LANGUAGE = "text/fhirpath"

# HL7's names.
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
UNITS = "http://unitsofmeasure.org"


def extension_url(name: str) -> str:
    """The URL of one of the service's own extensions, e.g. extension_url("reminder-rules")."""
    return f"{NAMESPACE}:extension:{name}"


def plan_definition_url(protocol_key: str) -> str:
    """A protocol's canonical URL; its versions are told apart by PlanDefinition.version."""
    return f"{NAMESPACE}:PlanDefinition:{protocol_key}"


def fhir_base() -> str:
    """Where this service answers FHIR requests (fullUrl of every resource it serves)."""
    return f"{settings.SITE_URL.rstrip('/')}/fhir/R4"


def reference(resource_type: str, pk) -> Reference:
    return Reference(reference=f"{resource_type}/{pk}")


def meta(updated: datetime | None) -> Meta | None:
    return Meta(lastUpdated=updated) if updated else None


def translations_ext(texts: dict[str, str]) -> FHIRPrimitiveExtension | None:
    """HL7's translation extension on a string: {language: text}, e.g. {"es": "…"}; None when empty."""
    entries = [
        Extension(url=TRANSLATION, extension=[
            Extension(url="lang", valueCode=language), Extension(url="content", valueString=text),
        ])
        for language, text in sorted(texts.items()) if text
    ]
    return FHIRPrimitiveExtension(extension=entries) if entries else None


def translations_of(primitive_ext: FHIRPrimitiveExtension | None) -> dict[str, str]:
    """{language: text} from a string's translation extensions (others are ignored)."""
    found = {}
    for ext in (primitive_ext.extension if primitive_ext else None) or []:
        if ext.url != TRANSLATION:
            continue
        parts = {part.url: part for part in ext.extension or []}
        if "lang" in parts and "content" in parts:
            found[parts["lang"].valueCode] = parts["content"].valueString
    return found


def extension_value(extensions, name: str, kind: str = "valueString"):
    """The value of the service's extension `name` among `extensions` (None when absent)."""
    url = extension_url(name)
    for ext in extensions or []:
        if ext.url == url:
            return getattr(ext, kind)
    return None


def as_date(value) -> date | None:
    return value if isinstance(value, date) and not isinstance(value, datetime) else None
