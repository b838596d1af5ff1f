"""About your surgery: the protocol's plain-words pages and glossary for the signed-in patient."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from checklists.about import about_payload
from checklists.payload_schema import AboutSerializer
from checklists.selectors import checklist_current
from prepapp.api.common import LANGUAGE_PARAMETER, conditional_answer
from prepapp.api.safety import language_of
from prepapp.lib.schema import error_response
from prepapp.permissions import IsPatient, patient_of

NO_CHECKLIST = "No checklist has been assigned to you yet."


@extend_schema(tags=["me"])
class MyAboutView(APIView):
    """The pages of the patient's own protocol version, in their language, their approach's page first.

    The texts are the version's (kept per version and language); the phone keeps the answer
    for offline reading, and an unchanged one answers 304.
    """

    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="me_about_retrieve",
        parameters=[LANGUAGE_PARAMETER],
        responses={200: AboutSerializer, 304: None, 400: error_response("The language is not one of ours."),
                   404: error_response(NO_CHECKLIST)},
    )
    def get(self, request):
        patient = patient_of(request.user)
        language = language_of(request, patient)
        checklist = checklist_current(patient)
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        return conditional_answer(request, about_payload(checklist.protocol_version, checklist.case, language=language))
