"""In: the hospital's surgical schedule, posted as a FHIR transaction or batch Bundle by an integration client."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiRequest, extend_schema
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from rest_framework.response import Response

from prepapp.api.fhir_common import FhirView, IsIntegrationClient, outcome
from prepapp.api.fhir_read import FhirSchema
from prepapp.api.fhir_schema import FhirBundleSerializer
from prepapp.fhir.bundle_reading import BundleRefused, read_bundle
from prepapp.fhir.schedule_import import schedule_import


class TransactionView(FhirView):
    """Post a Bundle (transaction or batch) of Patient and Appointment resources: the surgical schedule.

    Patients are matched by identifier, appointments by identifier; new ones are enrolled and
    booked (with the checklist of the protocol the procedure code is mapped to), moved ones
    moved, cancelled ones cancelled, fulfilled ones marked done; the patient is told as when a
    coordinator makes the change. Posting the same bundle again changes nothing. A bad entry
    refuses the whole bundle (400, or 422 for a refusal of what it asks) with an
    OperationOutcome naming the entry and the field; nothing is written then.
    """

    schema = FhirSchema()
    operation_name = "transaction"
    permission_classes = [IsIntegrationClient]
    extra_error_codes = ["422"]

    @extend_schema(request=OpenApiRequest(FhirBundleSerializer), responses={200: FhirBundleSerializer})
    def post(self, request):
        try:
            bundle, patients, appointments = read_bundle(request.data)
            results = schedule_import(organization=request.auth.organization, actor=request.auth.user,
                                      patients=patients, appointments=appointments, request=request)
        except BundleRefused as refused:
            return Response(outcome(refused.status, str(refused), expression=[refused.where]), status=refused.status)
        by_index = {r.index: r for r in results}
        entries = []
        for index, _entry in enumerate(bundle.entry or []):
            result = by_index.get(index)
            if result is None:  # a resource of another type: read, not used
                entries.append(BundleEntry(response=BundleEntryResponse(status="200 OK", outcome=_note(
                    "Not a Patient or Appointment: ignored."))))
                continue
            entries.append(BundleEntry(response=BundleEntryResponse(
                status=result.status, location=result.location or None,
                outcome=_note(result.note) if result.note else None,
            )))
        kind = "batch-response" if bundle.type == "batch" else "transaction-response"
        return Response(Bundle(type=kind, entry=entries or None))


def _note(text: str) -> OperationOutcome:
    return OperationOutcome(issue=[OperationOutcomeIssue(severity="information", code="informational",
                                                         diagnostics=text)])
