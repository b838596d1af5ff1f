"""What the API's views share: time zone validation, audited staff reads, and patients' small conditional reads."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from prepapp.audit import audit_record
from prepapp.lib.conditional_get import client_has, make_etag, not_modified, revalidate_privately
from prepapp.models import Patient, validate_time_zone


def validate_tz(value):
    try:
        validate_time_zone(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages[0]) from exc
    return value


class AuditedRetrieveMixin:
    """Staff reads of patients' records leave audit entries: one record read, or a list's page.

    A list shows patients' data too, so every patient on the page returned gets a "list"
    entry, written in the same transaction as the read.
    """

    audit_action = "read"

    def audit(self, patient_ids):
        audit_record(
            actor=self.request.user, patients=patient_ids, action=self.audit_action, request=self.request
        )

    def patients_shown(self, rows) -> list[int]:
        raise NotImplementedError

    def list(self, request, *args, **kwargs):
        with transaction.atomic():
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            rows = page if page is not None else list(self.filter_queryset(self.get_queryset()))
            audit_record(actor=request.user, patients=sorted(set(self.patients_shown(rows))), action="list",
                         request=request)
            data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


# --- Staff: patients ---------------------------------------------------------------------


def conditional_answer(request, data) -> Response:
    """A patient's own small read, with an ETag of its content: 304 when the phone's copy is current.

    The body is cheap to build here; the validator saves sending it again.
    """
    etag = make_etag(request.accepted_renderer.format, translation.get_language(), data)
    if client_has(request, etag):
        return not_modified(etag)
    return revalidate_privately(Response(data), etag)


LANGUAGE_PARAMETER = OpenApiParameter(
    "lang",
    str,
    enum=Patient.Language.values,
    description="The language of the steps' texts; defaults to the patient's own (English for the care team).",
)
