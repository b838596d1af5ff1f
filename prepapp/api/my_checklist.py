"""The patient's own checklist (with its validator, so an unchanged one answers 304) and its calendar file."""

from functools import cache

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

from checklists.calendar import checklist_calendar
from checklists.models import Checklist
from checklists.payload_schema import (
    CaseSummarySerializer,
    ChecklistCountsSerializer,
    ChecklistProtocolSerializer,
    ChecklistSerializer,
    TaskSerializer,
    TaskSubItemSerializer,
    TaskTargetSerializer,
)
from checklists.payloads import checklist_payload, is_frozen
from checklists.selectors import checklist_current, checklist_current_with_stamps
from prepapp.api.common import LANGUAGE_PARAMETER
from prepapp.lib.conditional_get import client_has, make_etag, not_modified, revalidate_privately
from prepapp.lib.response_cache import KeptBodyResponse, kept_body, kept_body_key
from prepapp.lib.schema import error_response
from prepapp.models import Patient
from prepapp.permissions import IsPatient, patient_of

NO_CHECKLIST = "No checklist has been assigned to you yet."


# Changes whenever a field is added to, or removed from, what the checklist answer holds, so
# that a new release never answers 304 to a copy made by the old one. Raise PAYLOAD_REVISION
# when the meaning of a field changes without its name changing.
PAYLOAD_REVISION = 1


@cache
def payload_shape() -> str:
    shapes = [PAYLOAD_REVISION]
    for serializer in (ChecklistSerializer(), TaskSerializer(), CaseSummarySerializer(), TaskTargetSerializer(),
                       TaskSubItemSerializer(), ChecklistCountsSerializer(), ChecklistProtocolSerializer()):
        shapes.append((type(serializer).__name__, sorted(serializer.fields)))
    return make_etag(*shapes)


def checklist_etag(checklist: Checklist, *, patient: Patient, language: str, renderer: str) -> str:
    """The validator of the patient's checklist answer, from the stamps read with the checklist.

    Everything the answer depends on is in it: the patient (language, time zone and today
    there, weight, facts), the case, the protocol version (and its protocol's name and
    procedure), and the tasks' count, ids, change times and dates
    (checklists.selectors.checklist_current_with_stamps), the request's language and format,
    and the payload's shape. The process keeps the rendered answer under it
    (prepapp.lib.conditional_get.KeptBodyResponse), so nothing the body shows may be missing here.
    """
    case, version = checklist.case, checklist.protocol_version
    return make_etag(
        payload_shape(), renderer, translation.get_language(), language,
        patient.pk, patient.time_zone, patient.local_today(), str(patient.weight_kg), sorted(patient.facts.items()),
        checklist.pk, version.pk, version.number, version.content_hash, version.protocol.key, version.protocol.name,
        version.protocol.procedure,
        case.pk, case.procedure, case.surgeon, case.surgery_date, case.surgery_time, case.status, case.updated_at,
        checklist.tasks_count, checklist.tasks_done, checklist.tasks_id_sum, checklist.tasks_changed_at,
        checklist.tasks_changed_sum, checklist.tasks_first_due, checklist.tasks_last_due,
    )


class MyChecklistView(APIView):
    """The signed-in patient's checklist, grouped for the phone.

    Answers `304 Not Modified` to `If-None-Match` with the current ETag: one query, no payload.
    """

    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[LANGUAGE_PARAMETER],
        responses={200: ChecklistSerializer, 304: None, 404: error_response(NO_CHECKLIST)},
    )
    def get(self, request):
        checklist = checklist_current_with_stamps(patient_of(request.user))
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        patient = checklist.case.patient  # read with the checklist, as it is now
        language = request.query_params.get("lang") or patient.language
        etag = checklist_etag(checklist, patient=patient, language=language, renderer=request.accepted_renderer.format)
        if client_has(request, etag):
            return not_modified(etag)
        # The same validator, the same body: a published version's answer rendered earlier in
        # this process is sent as is (a draft's steps can change without the ETag knowing).
        key = kept_body_key(request, etag) if is_frozen(checklist.protocol_version) else None
        kept = kept_body(key)
        if kept is not None:
            return revalidate_privately(KeptBodyResponse(key=key, kept=kept), etag)
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
