"""The FHIR R4 endpoints, mounted under /fhir/R4/ by config/urls.py."""

from django.urls import path, re_path

from prepapp.api import fhir_import, fhir_read
from prepapp.api.fhir_common import fhir_not_found
from prepapp.fhir.search import TYPES

urlpatterns = [
    path("", fhir_import.TransactionView.as_view(), name="fhir-transaction"),
    path("metadata", fhir_read.MetadataView.as_view(), name="fhir-metadata"),
    path("Patient/<int:pk>/$everything", fhir_read.PatientEverythingView.as_view(), name="fhir-patient-everything"),
    path("PlanDefinition", fhir_read.PlanDefinitionSearchView.as_view(), name="fhir-plandefinition-search"),
    path("PlanDefinition/<int:pk>", fhir_read.PlanDefinitionReadView.as_view(), name="fhir-plandefinition-read"),
    *(
        pattern
        for resource_type in TYPES
        for pattern in (
            path(resource_type, fhir_read.ResourceSearchView.as_view(resource_type=resource_type),
                 name=f"fhir-{resource_type.lower()}-search"),
            path(f"{resource_type}/<int:pk>", fhir_read.ResourceReadView.as_view(resource_type=resource_type),
                 name=f"fhir-{resource_type.lower()}-read"),
        )
    ),
    # Last: any other path gets an OperationOutcome 404, never an HTML page.
    re_path(r"^.*$", fhir_not_found),
]
