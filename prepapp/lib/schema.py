"""The API's OpenAPI contract, the parts every endpoint shares.

- one error shape (`Error`): each field's messages under its name, every other message under
  "detail", always as lists; prepapp.lib.errors makes the responses match it;
- times of day as they are sent and returned: local wall-clock times without a UTC offset;
- the schema class (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) that documents the error
  responses an endpoint can give from what the view declares: its authentication,
  permissions, throttles, method and path.
"""

from __future__ import annotations

from datetime import time

from django.db import models
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.settings import api_settings

# --- Times of day -------------------------------------------------------------------------

# What DRF's TimeField returns (time.isoformat(): HH:MM:SS, with microseconds when there are
# any) and accepts (HH:MM too). JSON Schema's `format: time` would promise a UTC offset.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
LOCAL_TIME_NOTE = (
    "A wall-clock time in the patient's time zone, HH:MM[:SS], without a UTC offset "
    "(one with an offset, such as 21:00:00+05:00, is refused with a 400 naming the field)."
)
OFFSET_REFUSED = "Give the time without a UTC offset: it is the patient's own wall-clock time, e.g. 21:00."


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME_PATTERN, "example": "09:00:00"})
class LocalTimeField(serializers.TimeField):
    """A time of day in the patient's own time zone (reminder time, quiet hours, surgery time)."""

    def __init__(self, **kwargs):
        help_text = kwargs.get("help_text")
        kwargs["help_text"] = f"{help_text} {LOCAL_TIME_NOTE}" if help_text else LOCAL_TIME_NOTE
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        # Django's parser drops an offset, and the time would silently mean another one.
        if isinstance(value, str) and _has_offset(value):
            raise serializers.ValidationError(OFFSET_REFUSED, code="offset")
        return super().to_internal_value(value)


def _has_offset(value: str) -> bool:
    try:
        return time.fromisoformat(value.strip()).tzinfo is not None
    except ValueError:
        return False  # not an ISO time at all: the field's own message says so


# A ModelSerializer whose model TimeFields are LocalTimeFields: the same values, documented
# truthfully. (No docstring: the schema would show it as every subclass's description.)
class LocalTimeModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.TimeField: LocalTimeField,
    }


# --- Errors ---------------------------------------------------------------------------------

NON_FIELD_ERRORS_KEY = api_settings.NON_FIELD_ERRORS_KEY


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx response. Documentation only: prepapp.lib.errors builds the bodies."""

    detail = serializers.ListField(child=serializers.CharField(), required=False)


class ErrorSchema(OpenApiSerializerExtension):
    """`Error`: {"field": ["message", …], "detail": ["message", …]}, with nested fields' errors nested alike."""

    target_class = ErrorSerializer

    def get_name(self, auto_schema, direction):
        return "Error"

    def map_serializer(self, auto_schema, direction):
        messages = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": (
                "Every error response has this shape. Each field that was refused has its messages "
                "under its own name (a nested object's fields nested the same way); every other "
                f'message is under "{NON_FIELD_ERRORS_KEY}". Messages are always lists of strings.'
            ),
            "properties": {
                NON_FIELD_ERRORS_KEY: {**messages, "description": "Messages that are about no single field."},
            },
            "additionalProperties": {"oneOf": [messages, {"$ref": "#/components/schemas/Error"}]},
            "example": {"surgery_date": ["The surgery date cannot be in the past."]},
        }


def error_response(description: str) -> OpenApiResponse:
    """An `Error` response with its own description, for an @extend_schema(responses=…) entry."""
    return OpenApiResponse(ErrorSerializer, description=description)


ERROR_DESCRIPTIONS = {
    "400": "The request was refused: the fields named say why.",
    "401": "Not signed in: no session, and no valid `Authorization: Token …` header.",
    "403": "Signed in, but not allowed to do this (or a session request without its CSRF token).",
    "404": "No such record, or not one the caller may see.",
    "429": "Too many requests; try again after the number of seconds in Retry-After.",
}
ERROR_HEADERS = {
    "401": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'The scheme to use: "Token".'}},
    "429": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NO_PERMISSION_NEEDED = (permissions.AllowAny,)
SIGNED_IN_ONLY = (permissions.AllowAny, permissions.IsAuthenticated)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, adding the `Error` responses each operation can give.

    An operation's explicit @extend_schema responses win; to the rest it adds 400 for requests
    that carry data, 401 where signing in is required, 403 where a role is required or a
    session write needs its CSRF token, 404 for paths naming a record (and pages past the end
    of a paged list), and 429 where a
    throttle applies.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code in responses:
                continue
            response = self._get_response_for_code(
                error_response(ERROR_DESCRIPTIONS[code]), code, media_types=["application/json"], direction=direction
            )
            if code in ERROR_HEADERS:
                response["headers"] = ERROR_HEADERS[code]
            responses[code] = response
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        view = self.view
        authenticators = view.get_authenticators()
        permission_classes = [type(p) for p in view.get_permissions()]
        codes = []
        if self.method in {"POST", "PUT", "PATCH"} or self._delete_has_body():
            codes.append("400")
        if authenticators and not all(issubclass(p, NO_PERMISSION_NEEDED) for p in permission_classes):
            codes.append("401")
        needs_role = not all(issubclass(p, SIGNED_IN_ONLY) for p in permission_classes)
        needs_csrf = self.method in UNSAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators)
        if needs_role or needs_csrf:
            codes.append("403")
        paginated = self.method == "GET" and self._is_list_view() and getattr(view, "paginator", None) is not None
        if "{" in self.path or paginated:
            codes.append("404")  # no such record; or, for a paged list, no such page
        if view.get_throttles():
            codes.append("429")
        return codes

    def _delete_has_body(self) -> bool:
        """A DELETE whose @extend_schema names a request serializer other than the view's own reads a body."""
        if self.method != "DELETE":
            return False
        declared = force_instance(self.get_request_serializer())
        own = force_instance(self._get_serializer()) if isinstance(self.view, GenericAPIView) else None
        return declared is not None and type(declared) is not type(own)

    def _get_request_body(self, direction="request"):
        # drf-spectacular documents bodies for POST, PUT and PATCH only; a DELETE that reads
        # one (forgetting a push subscription by its endpoint) is documented all the same.
        if not self._delete_has_body():
            return super()._get_request_body(direction)
        component = self.resolve_serializer(self.get_request_serializer(), direction)
        return {"content": {"application/json": {"schema": component.ref}}, "required": True}
