"""The FHIR endpoints in the OpenAPI schema: FHIR's own shapes, named, and OperationOutcome for every error.

The resources themselves are FHIR R4's (the specification defines their fields); the schema
names their common part and says which resource types come back.
"""

from __future__ import annotations

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from prepapp.fhir.codes import FHIR_JSON
from prepapp.lib.schema import ERROR_HEADERS, ApiAutoSchema

STRING = {"type": "string"}
# FHIR resources carry many more fields than these: each is FHIR R4's, as its specification says.
ANY_FHIR_ELEMENT = {"description": "An element of the resource, as FHIR R4 defines it."}


def _resource(name: str, description: str, extra: dict | None = None) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "resourceType": {"type": "string", "enum": [name]} if name else STRING,
            "id": STRING,
            "meta": {"type": "object", "properties": {"lastUpdated": {"type": "string", "format": "date-time"}}},
            **(extra or {}),
        },
        "required": ["resourceType"],
        "additionalProperties": ANY_FHIR_ELEMENT,
    }


class FhirResourceSerializer(serializers.Serializer):
    """Documentation only: the views return fhir.resources models."""


class FhirBundleSerializer(serializers.Serializer):
    """Documentation only."""


class OperationOutcomeSerializer(serializers.Serializer):
    """Documentation only."""


class CapabilityStatementSerializer(serializers.Serializer):
    """Documentation only."""


class _Component(OpenApiSerializerExtension):
    name = ""
    schema: dict = {}

    def get_name(self, auto_schema, direction):
        return self.name

    def map_serializer(self, auto_schema, direction):
        # A fresh copy each time: drf-spectacular's enum hook rewrites what it is given in place
        # (an inline enum becomes a $ref), which would leave the next schema with dangling $refs.
        return copy.deepcopy(self.schema)


class FhirResourceSchema(_Component):
    target_class = FhirResourceSerializer
    name = "FhirResource"
    schema = _resource("", "A FHIR R4 resource (Patient, Appointment, CarePlan, Task, CommunicationRequest, "
                           "Communication or PlanDefinition).")


class FhirBundleSchema(_Component):
    target_class = FhirBundleSerializer
    name = "FhirBundle"
    schema = _resource("Bundle", "A FHIR Bundle: a search's matches, $everything, or a transaction's response.", {
        "type": {"type": "string", "enum": ["searchset", "transaction-response", "batch-response", "collection"]},
        "total": {"type": "integer"},
        "entry": {"type": "array", "items": {
            "type": "object",
            "properties": {"fullUrl": STRING, "resource": {"$ref": "#/components/schemas/FhirResource"}},
            "additionalProperties": ANY_FHIR_ELEMENT,
        }},
    })


class OperationOutcomeSchema(_Component):
    target_class = OperationOutcomeSerializer
    name = "OperationOutcome"
    schema = _resource("OperationOutcome", "Every FHIR error: what went wrong, and where (`expression`).", {
        "issue": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "severity": STRING, "code": STRING, "diagnostics": STRING,
                "expression": {"type": "array", "items": STRING},
            },
            "required": ["severity", "code"],
        }},
    })


class CapabilityStatementSchema(_Component):
    target_class = CapabilityStatementSerializer
    name = "CapabilityStatement"
    schema = _resource("CapabilityStatement", "What this FHIR server does: its resources and their searches.")


FHIR_ERRORS = {
    "400": "The request was refused: the OperationOutcome names the parameter, entry or field.",
    "401": "No valid `Authorization: Bearer <key>` (an integration client's), API token or session.",
    "403": "Signed in, but not one who may do this.",
    "404": "No such resource, or not one of the caller's organizations.",
    "422": "The bundle was refused whole: the OperationOutcome names the entry and the field. Nothing was written.",
    "429": "Too many requests; try again after the number of seconds in Retry-After.",
}


class FhirAutoSchema(ApiAutoSchema):
    """ApiAutoSchema's rules for which errors an operation can give, each an OperationOutcome in FHIR's media type."""

    def _get_response_bodies(self, direction="response"):
        responses = super(ApiAutoSchema, self)._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes() + getattr(self.view, "extra_error_codes", []):
            if code in responses:
                continue
            response = self._get_response_for_code(
                OpenApiResponse(OperationOutcomeSerializer, description=FHIR_ERRORS[code]), code,
                media_types=[FHIR_JSON], direction=direction,
            )
            if code == "401":
                response["headers"] = {"WWW-Authenticate": {
                    "schema": STRING, "description": 'The scheme to use: "Bearer" (or "Token" for staff).'}}
            elif code in ERROR_HEADERS:
                response["headers"] = ERROR_HEADERS[code]
            responses[code] = response
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        codes = super()._error_codes()
        if self.method == "GET" and getattr(self.view, "searches", False):
            codes.append("400")  # a search parameter that cannot be read
        return sorted(set(codes))


SEARCH_PARAMETERS = [
    OpenApiParameter("patient", str, description="Only this patient's: `123` or `Patient/123`."),
    OpenApiParameter("_lastUpdated", str, many=True, description=(
        "Changed since (or before): a date or instant with a prefix, e.g. `gt2026-01-31T08:00:00Z`; "
        "repeat it for a range (`ge…&_lastUpdated=lt…`).")),
    OpenApiParameter("_count", int, description="Matches per page, 100 unless given, at most 500."),
    OpenApiParameter("_offset", int, description="Matches to skip (the `next` link carries it)."),
]


class IntegrationClientKeyScheme(OpenApiAuthenticationExtension):
    """An integration client's key, sent as `Authorization: Bearer <key>`."""

    target_class = "prepapp.fhir.authentication.IntegrationClientAuthentication"
    name = "integrationClientKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An integration client's key (admin: Integration clients), shown once when issued."}
