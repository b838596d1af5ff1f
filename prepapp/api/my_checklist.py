"""The patient's own checklist (with its validator, so an unchanged one answers 304) and its calendar file."""

from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import renderers
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

import checklists
import prepapp
from checklists.calendar import checklist_calendar
from checklists.payload_schema import (
    ChecklistSerializer,
)
from checklists.payloads import checklist_payload
from checklists.selectors import checklist_current
from prepapp.api.common import LANGUAGE_PARAMETER
from prepapp.lib.conditional_get import client_has, make_etag, not_modified, revalidate_privately, source_fingerprint
from prepapp.lib.response_cache import KeptBodyResponse, kept_body, kept_body_key
from prepapp.lib.schema import error_response
from prepapp.models import Patient
from prepapp.permissions import IsPatient, patient_of
from prepapp.selectors import plan_revision_of

NO_CHECKLIST = "No checklist has been assigned to you yet."


@cache
def release_fingerprint() -> str:
    """What the answer's code is: every source, translation and protocol file it is built from.

    A release that changes how the answer is built (a field added, a text reworded, a
    translation mended) changes this, so no phone is told "not modified" about a copy made by
    the code before it. Worked out once per process.
    """
    roots = [Path(checklists.__file__).parent, Path(prepapp.__file__).parent, *map(Path, settings.LOCALE_PATHS)]
    return source_fingerprint(roots, suffixes={".py", ".yaml", ".mo"})


def checklist_etag(*, patient: Patient, language: str, renderer: str, request=None) -> str:
    """The validator of the patient's checklist answer: their plan's revision, and what the request asks for.

    The revision (prepapp.Patient.plan_revision) moves, in the same transaction, with every
    change to anything the answer is read from; the database's triggers move it, so no write
    path can forget to. Beside it: the patient's today (the answer groups steps by it), the
    language of the texts and of the request, the format, and the code that builds the answer.
    The revision is read afresh, or taken from the patient record this request's user was read
    with (`request`: see plan_revision_of): a 304 then costs no query beyond the user's.
    """
    return make_etag(
        release_fingerprint(), renderer, translation.get_language(), language,
        patient.pk, plan_revision_of(patient, request=request), patient.local_today(),
    )


class MyChecklistView(APIView):
    """The signed-in patient's checklist, grouped for the phone.

    Answers `304 Not Modified` to `If-None-Match` with the current ETag: one small read, no payload.
    """

    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[LANGUAGE_PARAMETER],
        responses={200: ChecklistSerializer, 304: None, 404: error_response(NO_CHECKLIST)},
    )
    def get(self, request):
        patient = patient_of(request.user)
        language = request.query_params.get("lang") or patient.language
        etag = checklist_etag(patient=patient, language=language, renderer=request.accepted_renderer.format,
                              request=request)
        if client_has(request, etag):
            return not_modified(etag)
        # The same validator, the same body: an answer this process rendered under it is sent as is.
        key = kept_body_key(request, etag)
        kept = kept_body(key)
        if kept is not None:
            return revalidate_privately(KeptBodyResponse(key=key, kept=kept), etag)
        # Read after the revision: the body is never older than the validator it is sent with.
        checklist = checklist_current(patient)
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        return revalidate_privately(KeptBodyResponse(checklist_payload(checklist, language=language), key=key), etag)


class ICalendarRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/calendar.

    The view writes the calendar itself; only error bodies are rendered here, and they stay
    JSON (with that content type), like every other error of the API.
    """

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data, "application/json", renderer_context)


class MyCalendarView(APIView):
    """The signed-in patient's surgery and open steps as an iCalendar (.ics) download."""

    permission_classes = [IsPatient]
    renderer_classes = [renderers.JSONRenderer, ICalendarRenderer]

    @extend_schema(
        operation_id="me_calendar_retrieve",
        parameters=[LANGUAGE_PARAMETER],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR,
                description="An iCalendar (RFC 5545) file: the surgery, and each open step as an all-day event.",
            ),
            404: error_response(NO_CHECKLIST),
        },
    )
    def get(self, request):
        patient = patient_of(request.user)
        checklist = checklist_current(patient)
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        body = checklist_calendar(checklist, language=request.query_params.get("lang") or patient.language)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="surgery-preparation.ics"'
        return response
