"""FHIR reads: the CapabilityStatement, each resource by id, searches by patient and `_lastUpdated`, $everything.

Reads of a patient's records leave audit entries, as the rest of the API's staff reads do:
one per patient shown, in the read's own transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.capabilitystatement import (
    CapabilityStatement,
    CapabilityStatementImplementation,
    CapabilityStatementRest,
    CapabilityStatementRestInteraction,
    CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction,
    CapabilityStatementRestResourceOperation,
    CapabilityStatementRestResourceSearchParam,
    CapabilityStatementRestSecurity,
)
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from checklists.models import ProtocolVersion
from prepapp.api.fhir_common import FhirView, organization_ids
from prepapp.api.fhir_schema import (
    SEARCH_PARAMETERS,
    CapabilityStatementSerializer,
    FhirAutoSchema,
    FhirBundleSerializer,
    FhirResourceSerializer,
)
from prepapp.audit import audit_record
from prepapp.fhir import codes, patient_plan, search
from prepapp.fhir.plan_definition import plan_definition_resource
from prepapp.models import Patient


class FhirSchema(FhirAutoSchema):
    def get_operation_id(self):
        return f"fhir_{self.view.operation_name}"

    def get_tags(self):
        return ["fhir"]


def searchset(request, resource_type: str, resources: list, total: int, count: int, offset: int) -> Bundle:
    base = codes.fhir_base()
    links = [BundleLink(relation="self", url=request.build_absolute_uri())]
    if offset + count < total:
        params = request.query_params.copy()
        params["_offset"] = str(offset + count)
        links.append(BundleLink(relation="next", url=f"{base}/{resource_type}?{params.urlencode()}"))
    return Bundle(
        type="searchset", total=total, link=links, timestamp=timezone.now(),
        entry=[
            BundleEntry(fullUrl=f"{base}/{r.get_resource_type()}/{r.id}", resource=r,
                        search=BundleEntrySearch(mode="match"))
            for r in resources
        ] or None,
    )


def _audit(request, patient_ids, action: str) -> None:
    if patient_ids:
        audit_record(actor=request.user, patients=sorted(set(patient_ids)), action=action, request=request)


class ResourceSearchView(FhirView):
    """Search one resource type: by `patient`, by `_lastUpdated`, paged with `_count`."""

    schema = FhirSchema()
    resource_type = ""
    searches = True

    @property
    def operation_name(self):
        return f"{self.resource_type.lower()}_search"

    @extend_schema(responses={200: FhirBundleSerializer}, parameters=SEARCH_PARAMETERS)
    def get(self, request):
        kind = search.TYPES[self.resource_type]
        with transaction.atomic():
            try:
                rows, total, count, offset = search.search(kind, organization_ids(request), request.query_params)
            except search.SearchRefused as refused:
                raise ValidationError({refused.parameter: [refused.message]}) from refused
            _audit(request, [kind.patient_of(row) for row in rows], "fhir-search")
            resources = [kind.build(row) for row in rows]
        return Response(searchset(request, self.resource_type, resources, total, count, offset))


class ResourceReadView(FhirView):
    """One resource by its id."""

    schema = FhirSchema()
    resource_type = ""

    @property
    def operation_name(self):
        return f"{self.resource_type.lower()}_read"

    @extend_schema(responses={200: FhirResourceSerializer})
    def get(self, request, pk):
        kind = search.TYPES[self.resource_type]
        with transaction.atomic():
            row = kind.rows(organization_ids(request)).filter(pk=pk).first()
            if row is None:
                raise Http404(f"No {self.resource_type}/{pk} here.")
            _audit(request, [kind.patient_of(row)], "fhir-read")
            resource = kind.build(row)
        return Response(resource)


class PatientEverythingView(FhirView):
    """Everything about one patient as one Bundle: the Patient, surgeries, care plans, steps, reminders."""

    schema = FhirSchema()
    operation_name = "patient_everything"

    @extend_schema(responses={200: FhirBundleSerializer})
    def get(self, request, pk):
        with transaction.atomic():
            patient = Patient.objects.filter(organization_id__in=organization_ids(request), pk=pk).first()
            if patient is None:
                raise Http404(f"No Patient/{pk} here.")
            _audit(request, [patient.pk], "fhir-everything")
            bundle = patient_plan.everything_bundle(patient)
        return Response(bundle)


def plan_definitions_for(request):
    """The published protocol versions the caller's organizations may use: the shipped ones and their own."""
    orgs = organization_ids(request)
    return (
        ProtocolVersion.objects.filter(published_at__isnull=False)
        .filter(Q(protocol__organization__isnull=True) | Q(protocol__organization_id__in=orgs))
        .select_related("protocol").order_by("id")
    )


class PlanDefinitionSearchView(FhirView):
    """Every published protocol version the organization may use, as a PlanDefinition."""

    schema = FhirSchema()
    operation_name = "plandefinition_search"

    @extend_schema(responses={200: FhirBundleSerializer})
    def get(self, request):
        versions = list(plan_definitions_for(request))
        resources = [plan_definition_resource(v) for v in versions]
        return Response(searchset(request, "PlanDefinition", resources, len(resources), len(resources), 0))


class PlanDefinitionReadView(FhirView):
    schema = FhirSchema()
    operation_name = "plandefinition_read"

    @extend_schema(responses={200: FhirResourceSerializer})
    def get(self, request, pk):
        version = plan_definitions_for(request).filter(pk=pk).first()
        if version is None:
            raise Http404(f"No PlanDefinition/{pk} here.")
        return Response(plan_definition_resource(version))


def _resource_entry(resource_type: str) -> CapabilityStatementRestResource:
    searches = [CapabilityStatementRestResourceSearchParam(name=name, type=kind) for name, kind in (
        ("patient", "reference"), ("_lastUpdated", "date"), ("_count", "number"))]
    return CapabilityStatementRestResource(
        type=resource_type,
        interaction=[CapabilityStatementRestResourceInteraction(code=c) for c in ("read", "search-type")],
        searchParam=searches if resource_type != "PlanDefinition" else None,
        operation=[CapabilityStatementRestResourceOperation(
            name="everything", definition="http://hl7.org/fhir/OperationDefinition/Patient-everything")]
        if resource_type == "Patient" else None,
    )


class MetadataView(FhirView):
    """The CapabilityStatement: what this server reads, searches and takes. Open to anyone, as FHIR asks."""

    schema = FhirSchema()
    operation_name = "metadata"
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: OpenApiResponse(CapabilityStatementSerializer)})
    def get(self, request):
        statement = CapabilityStatement(
            status="active", date=timezone.now(), kind="instance", fhirVersion=codes.FHIR_VERSION,
            format=["json", codes.FHIR_JSON],
            implementation=CapabilityStatementImplementation(description="Surgery preparation", url=codes.fhir_base()),
            rest=[CapabilityStatementRest(
                mode="server",
                security=CapabilityStatementRestSecurity(
                    service=[CodeableConcept(coding=[Coding(
                        system="http://terminology.hl7.org/CodeSystem/restful-security-service", code="OAuth")],
                        text="Authorization: Bearer <integration client key>")],
                    description="Integration clients send their key as a Bearer token; staff their API token.",
                ),
                resource=[_resource_entry(t) for t in (*search.TYPES, "PlanDefinition")],
                interaction=[CapabilityStatementRestInteraction(code=c) for c in ("transaction", "batch")],
            )],
        )
        return Response(statement)

