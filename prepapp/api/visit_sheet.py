"""The visit sheet as a PDF: the patient's own, and a patient's for the care team (an audited read)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.views import APIView

from prepapp.api.safety import NO_PATIENT, language_of
from prepapp.audit import audit_record
from prepapp.lib.schema import error_response
from prepapp.models import Patient
from prepapp.permissions import IsPatient, IsStaffMember, patient_of
from prepapp.selectors import patients_for_staff
from prepapp.workflows import visit_sheet

PAPER_PARAMETER = OpenApiParameter(
    "paper", str, enum=list(visit_sheet.PAPERS),
    description="The paper size; Letter for patients in the Americas, A4 elsewhere, unless given.",
)
LANG_PARAMETER = OpenApiParameter(
    "lang", str, enum=Patient.Language.values, description="The sheet's language; the patient's own unless given.",
)
PDF_RESPONSE = OpenApiResponse(OpenApiTypes.BINARY, description="A PDF of the visit sheet, one or two pages.")


class PdfRenderer(renderers.BaseRenderer):
    """Lets a client ask for application/pdf; error bodies stay JSON."""

    media_type = "application/pdf"
    format = "pdf"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data, "application/json", renderer_context)


def paper_of(request, patient: Patient) -> str:
    paper = request.query_params.get("paper") or visit_sheet.default_paper(patient)
    if paper not in visit_sheet.PAPERS:
        raise serializers.ValidationError({"paper": [f"Use one of {', '.join(visit_sheet.PAPERS)}."]})
    return paper


def pdf_response(patient: Patient, *, language: str, paper: str) -> HttpResponse:
    body = visit_sheet.visit_sheet_pdf(patient, language=language, paper=paper)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="visit-sheet.pdf"'
    return response


@extend_schema(tags=["me"])
class MyVisitSheetView(APIView):
    """The signed-in patient's visit sheet for the pre-operative visit, as a PDF to print."""

    permission_classes = [IsPatient]
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    @extend_schema(operation_id="me_visit_sheet_retrieve", parameters=[LANG_PARAMETER, PAPER_PARAMETER],
                   responses={(200, "application/pdf"): PDF_RESPONSE,
                              400: error_response("The language or the paper is not one of ours."),
                              404: error_response("A ?format= the sheet does not come in (pdf or json).")})
    def get(self, request):
        patient = patient_of(request.user)
        return pdf_response(patient, language=language_of(request, patient), paper=paper_of(request, patient))


@extend_schema(tags=["patients"])
class PatientVisitSheetView(APIView):
    """Staff: a patient's visit sheet as a PDF, in the patient's language. An audited read."""

    permission_classes = [IsStaffMember]
    renderer_classes = [renderers.JSONRenderer, PdfRenderer]

    @extend_schema(operation_id="patients_visit_sheet_retrieve", parameters=[LANG_PARAMETER, PAPER_PARAMETER],
                   responses={(200, "application/pdf"): PDF_RESPONSE, 404: error_response(NO_PATIENT),
                              400: error_response("The language or the paper is not one of ours.")})
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = get_object_or_404(patients_for_staff(request.user).select_related("organization"), pk=pk)
            language, paper = language_of(request, patient), paper_of(request, patient)
            audit_record(actor=request.user, patients=[patient], action="read-visit-sheet", request=request)
        return pdf_response(patient, language=language, paper=paper)
