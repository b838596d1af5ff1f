"""Publish exported FHIR PlanDefinitions (JSON files) as protocol versions."""

from pathlib import Path

import pydantic
from django.core.management.base import BaseCommand, CommandError
from fhir.resources.R4B.plandefinition import PlanDefinition

from prepapp.fhir.plan_definition import PlanDefinitionRefused, plan_definition_import


class Command(BaseCommand):
    help = "Publish PlanDefinition JSON files (as GET /fhir/R4/PlanDefinition/<id> returns them) as protocol versions."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")

    def handle(self, *args, files, **options):
        for name in files:
            try:
                resource = PlanDefinition.model_validate_json(Path(name).read_text())
                version, created = plan_definition_import(resource=resource)
            except (OSError, pydantic.ValidationError, PlanDefinitionRefused) as exc:
                raise CommandError(f"{name}: {exc}") from exc
            state = "new version" if created else "unchanged"
            self.stdout.write(f"{version.protocol.key}: v{version.number} ({state})")
