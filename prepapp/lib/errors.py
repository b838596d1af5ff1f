"""One error shape for the API: {"field": ["message", …], "detail": ["message", …]}.

Every 4xx body names the fields it refuses, each with a list of messages; messages about no
single field (not signed in, not allowed, not found, too many requests, a refused state change)
are listed under "detail" (REST_FRAMEWORK's NON_FIELD_ERRORS_KEY). prepapp.lib.schema
documents the shape as the `Error` component.
"""

from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


# What PostgreSQL says when two transactions changed the same records at the same moment and
# this one lost: a deadlock broken by aborting it, a serialization failure, or a row it refers
# to deleted meanwhile (say, a patient erased while their record was being changed).
CONFLICT_SQLSTATES = {"40P01", "40001", "23503"}
GONE = "No such record: it may have been removed a moment ago."
CONFLICT = "Someone else changed this record at the same moment, and nothing was saved. Reload it and try again."


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = CONFLICT
    default_code = "conflict"


def lost_race(exc) -> bool:
    """A database error that means a concurrent change won, not a fault of the request or the code."""
    cause = exc.__cause__ if isinstance(exc, DatabaseError) else None
    return getattr(cause, "sqlstate", None) in CONFLICT_SQLSTATES


def exception_handler(exc, context):
    non_field_key = api_settings.NON_FIELD_ERRORS_KEY
    if isinstance(exc, ObjectDoesNotExist):
        # A row found by the view and gone when the service locked it: deleted in between.
        exc = exceptions.NotFound(GONE)
    elif isinstance(exc, DatabaseError) and lost_race(exc):
        exc = Conflict()
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError: it becomes a 400 naming the field.
        if hasattr(exc, "error_dict"):
            detail = {
                non_field_key if field == NON_FIELD_ERRORS else field: [str(m) for e in errors for m in e.messages]
                for field, errors in exc.error_dict.items()
            }
        else:
            detail = {non_field_key: exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, exceptions.ParseError):
        # Malformed JSON: say so in the same shape as field errors, naming the request body.
        exc = exceptions.ValidationError({"body": [str(exc.detail)]})
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(response.data, non_field_key)
    return response


def error_body(data, non_field_key: str) -> dict:
    """DRF's error data in the one shape: a bare message or list goes under the non-field key."""
    if isinstance(data, dict):
        return {key: _messages(value) for key, value in data.items()}
    return {non_field_key: _messages(data)}


def _messages(value):
    # A nested serializer's (or a dict field's) errors stay an object of the same shape.
    if isinstance(value, dict):
        return {key: _messages(item) for key, item in value.items()}
    if isinstance(value, list):
        return value
    return [value]


class StrictInputMixin:
    """Writes name only fields the endpoint takes: an unknown or read-only field is a 400 naming it.

    Silently dropping them hides a client's typo ("surgery_dat") or a belief that it changed
    something it cannot ("invitation_code").
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            problems = {}
            for name in data:
                field = self.fields.get(name)
                if field is None:
                    problems[name] = ["This field is not accepted here."]
                elif field.read_only:
                    problems[name] = ["This field is read-only."]
            if problems:
                raise exceptions.ValidationError(problems)
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text, and only text: a number or a true/false is refused, not turned into "5" or "True"."""

    default_error_messages = {"not_text": "Must be text (a JSON string), not {kind}."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text", kind={bool: "true or false", int: "a number", float: "a number"}.get(
                type(data), type(data).__name__))
        return super().to_internal_value(data)


@csrf_exempt  # it changes nothing, and a CSRF page would be HTML
def api_not_found(request, *args, **kwargs):
    """Any path under the API that names no endpoint: a JSON 404 in the API's shape, never an HTML page."""
    return JsonResponse({"detail": ["No such endpoint or record."]}, status=404)
