"""What every FHIR endpoint shares: application/fhir+json in and out, OperationOutcome errors, who may call, the limit.

Callers are an organization's integration clients (`Authorization: Bearer <key>`) and its
staff (API token or session); each sees only its organizations' records, and anything else
does not exist (404).
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from prepapp.authentication import ExpiringTokenAuthentication
from prepapp.fhir.authentication import IntegrationClientAuthentication
from prepapp.fhir.codes import FHIR_JSON
from prepapp.fhir.models import IntegrationClient
from prepapp.lib.client_address import client_ip
from prepapp.lib.request_limits import DepthLimitedJSONParser
from prepapp.models import StaffMembership
from prepapp.permissions import staff_organization_ids

# HTTP status -> the OperationOutcome issue code FHIR gives it.
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 413: "too-long", 415: "not-supported", 422: "processing",
               429: "throttled"}


def outcome(status: int, diagnostics: str, *, expression: list[str] | None = None) -> OperationOutcome:
    return OperationOutcome(issue=[OperationOutcomeIssue(
        severity="error", code=ISSUE_CODES.get(status, "exception"), diagnostics=diagnostics or None, expression=expression,
    )])


class FhirRenderer(BaseRenderer):
    media_type = FHIR_JSON
    format = "fhir"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if hasattr(data, "model_dump_json"):
            return data.model_dump_json().encode()
        return json.dumps(data, ensure_ascii=False).encode()


class FhirJSONParser(DepthLimitedJSONParser):
    """FHIR's media type, and plain JSON as interface engines often send it."""

    media_type = FHIR_JSON


class FhirContentNegotiation(BaseContentNegotiation):
    """Always application/fhir+json: a FHIR client may ask for application/json, */* or nothing."""

    def select_parser(self, request, parsers):
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def fhir_exception_handler(exc, context):
    """DRF's status and headers (WWW-Authenticate, Retry-After), with an OperationOutcome for a body."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", "")
    expression = None
    if isinstance(detail, dict):
        expression = sorted(str(k) for k in detail)
        text = "; ".join(f"{k}: {' '.join(str(m) for m in (v if isinstance(v, list) else [v]))}"
                         for k, v in detail.items())
    elif isinstance(detail, list):
        text = " ".join(str(m) for m in detail)
    else:
        text = str(detail)
    response.data = outcome(response.status_code, text, expression=expression)
    return response


def organization_ids(request) -> list[int]:
    """The organizations whose records this caller sees: an integration client's one, or a member of staff's."""
    if isinstance(request.auth, IntegrationClient):
        return [request.auth.organization_id]
    return list(staff_organization_ids(request.user).values_list("organization_id", flat=True))


class IsStaffOrIntegrationClient(BasePermission):
    message = "Only an organization's integration clients and care team may read its FHIR records."

    def has_permission(self, request, view):
        if isinstance(request.auth, IntegrationClient):
            return True
        user = request.user
        return bool(user and user.is_authenticated and StaffMembership.objects.filter(user=user).exists())


class IsIntegrationClient(BasePermission):
    message = "Only an organization's integration client may post its schedule."

    def has_permission(self, request, view):
        return isinstance(request.auth, IntegrationClient)


class FhirThrottle(SimpleRateThrottle):
    """Per integration client (or per member of staff): one busy interface cannot crowd out the rest."""

    scope = "fhir"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, IntegrationClient):
            ident = f"client-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"address-{client_ip(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class FhirView(APIView):
    """The base of every FHIR endpoint."""

    # The key's scheme first: an anonymous caller is told `WWW-Authenticate: Bearer`.
    authentication_classes = [IntegrationClientAuthentication, ExpiringTokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrIntegrationClient]
    throttle_classes = [FhirThrottle]
    renderer_classes = [FhirRenderer]
    parser_classes = [FhirJSONParser, DepthLimitedJSONParser]
    content_negotiation_class = FhirContentNegotiation

    def get_exception_handler(self):
        return fhir_exception_handler


@csrf_exempt  # it changes nothing, and a CSRF page would not be FHIR
def fhir_not_found(request, *args, **kwargs):
    """Any path under /fhir/R4/ that names no endpoint: an OperationOutcome 404."""
    body = outcome(404, "No such FHIR endpoint or resource.").model_dump_json()
    return HttpResponse(body, status=404, content_type=FHIR_JSON)
