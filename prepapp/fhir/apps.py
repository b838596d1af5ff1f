from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "prepapp.fhir"
    label = "fhir"
    verbose_name = "FHIR connection"
