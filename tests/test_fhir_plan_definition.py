"""Protocols as FHIR PlanDefinitions: the shipped protocol goes out and comes back the same."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from fhir.resources.R4B.plandefinition import PlanDefinition

from checklists.models import Protocol, ProtocolVersion, TaskDefinition
from checklists.protocol_files import VERSION_FIELDS
from checklists.publishing import DEFINITION_FIELDS
from prepapp.fhir import codes
from prepapp.fhir.plan_definition import PlanDefinitionRefused, plan_definition_import, plan_definition_resource

pytestmark = pytest.mark.django_db


def snapshot(version: ProtocolVersion) -> dict:
    """Everything a version holds that a patient's plan is built from."""
    return {
        "name": version.protocol.name,
        "procedure": version.protocol.procedure,
        "source": version.source,
        **{field: getattr(version, field) for field in VERSION_FIELDS},
        "steps": [
            {field: getattr(d, field) for field in DEFINITION_FIELDS}
            for d in version.definitions.order_by("position")
        ],
    }


def exported_json(version) -> str:
    return plan_definition_resource(version).model_dump_json()


def test_the_shipped_protocol_round_trips_through_an_empty_database(protocol_version):
    before = snapshot(protocol_version)
    wire = exported_json(protocol_version)
    # Into an empty database: nothing of the protocol is left to fall back on.
    TaskDefinition.objects.all().delete()
    ProtocolVersion.objects.all().delete()
    Protocol.objects.all().delete()

    version, created = plan_definition_import(resource=PlanDefinition.model_validate_json(wire))

    assert created
    assert version.protocol.key == "mis-lumbar-fusion"
    assert snapshot(version) == before
    # Published like a file's version: the same content again is recognised, not copied.
    again, created_again = plan_definition_import(resource=PlanDefinition.model_validate_json(wire))
    assert (again.pk, created_again) == (version.pk, False)


def test_the_export_speaks_fhir_for_timing_applicability_and_both_languages(protocol_version):
    resource = PlanDefinition.model_validate_json(exported_json(protocol_version))
    assert resource.url == codes.plan_definition_url("mis-lumbar-fusion")
    assert resource.version == str(protocol_version.number)
    actions = {a.id: a for a in resource.action}
    assert "surgery" in actions
    stop_smoking = protocol_version.definitions.get(key="stop-smoking")
    action = actions["stop-smoking"]
    assert action.relatedAction[0].actionId == "surgery"
    assert action.relatedAction[0].relationship == "before-start"
    assert int(action.relatedAction[0].offsetDuration.value) == -stop_smoking.offset_days
    assert int(action.timingRange.low.value) == stop_smoking.window_start_days
    assert action.condition[0].kind == "applicability"
    assert action.condition[0].expression.expression == "%facts.smoker = true"
    assert codes.translations_of(action.title__ext)["es"] == stop_smoking.translations["es"]["title"]
    # The reminders' rules are an extension of the action.
    rules = json.loads(codes.extension_value(action.extension, "reminder-rules"))
    assert rules == stop_smoking.reminder_rules
    # Where each step comes from in the guide.
    assert action.documentation[0].display == stop_smoking.source_section


def test_a_step_not_timed_from_the_surgery_is_refused_naming_it(protocol_version):
    resource = plan_definition_resource(protocol_version)
    resource.action[1].relatedAction = None
    with pytest.raises(PlanDefinitionRefused) as refused:
        plan_definition_import(resource=resource)
    assert refused.value.field == "action[1].relatedAction"


def test_the_command_publishes_an_exported_file(protocol_version, tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(exported_json(protocol_version))
    out = io.StringIO()
    call_command("import_plan_definition", str(path), stdout=out)
    assert out.getvalue().strip() == f"mis-lumbar-fusion: v{protocol_version.number} (unchanged)"
