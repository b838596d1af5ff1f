"""The visit sheet as a page to print from the browser: the patient's own, and a patient's for the care team.

The same HTML the PDF is made from (prepapp.workflows.visit_sheet), with a "Print" button and
a link to the PDF. The care team's copy is an audited read, as the PDF is.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET

from prepapp.audit import audit_record
from prepapp.models import Patient
from prepapp.permissions import patient_of
from prepapp.workflows import visit_sheet

from .coordinator_views import staff_patient, staff_required


def _choices(request, patient: Patient) -> tuple[str, str] | HttpResponse:
    """The sheet's language and paper from ?lang= and ?paper=, or a 400 naming the one that is wrong."""
    language = request.GET.get("lang") or patient.language
    if language not in Patient.Language.values:
        return HttpResponseBadRequest(f"lang: use one of {', '.join(Patient.Language.values)}.", content_type="text/plain")
    paper = request.GET.get("paper") or visit_sheet.default_paper(patient)
    if paper not in visit_sheet.PAPERS:
        return HttpResponseBadRequest(f"paper: use one of {', '.join(visit_sheet.PAPERS)}.", content_type="text/plain")
    return language, paper


def _page(request, patient: Patient, *, language: str, paper: str, pdf_url: str, back_url: str) -> HttpResponse:
    query = f"?lang={language}&paper={paper}"
    html = visit_sheet.visit_sheet_html(patient, language=language, paper=paper, page={
        "nonce": request.csp_nonce, "pdf_url": pdf_url + query, "back_url": back_url,
        "print_script": static("frontend/visit_sheet/print.js"),
    })
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@require_GET
def my_visit_sheet(request):
    """The signed-in patient's sheet; anyone else is sent to the app (which signs them in)."""
    if not request.user.is_authenticated:
        return redirect("patient-app")
    patient = patient_of(request.user)
    if patient is None:
        return HttpResponseForbidden("The visit sheet is the patient's own.", content_type="text/plain")
    chosen = _choices(request, patient)
    if isinstance(chosen, HttpResponse):
        return chosen
    language, paper = chosen
    return _page(request, patient, language=language, paper=paper,
                 pdf_url=reverse("my-visit-sheet"), back_url=reverse("patient-app"))


@require_GET
@staff_required
def patient_visit_sheet(request, pk: int):
    """A patient's sheet for the care team, in the patient's language unless asked otherwise."""
    with transaction.atomic():
        patient = staff_patient(request, pk)
        chosen = _choices(request, patient)
        if isinstance(chosen, HttpResponse):
            return chosen
        audit_record(actor=request.user, patients=[patient], action="read-visit-sheet", request=request)
    language, paper = chosen
    return _page(request, patient, language=language, paper=paper,
                 pdf_url=reverse("patient-visit-sheet", args=[pk]), back_url=reverse("coordinator:patient", args=[pk]))
