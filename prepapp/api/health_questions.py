"""What is known about a patient's health, and the checklist that follows from it.

- staff: `PATCH patients/{id}/facts/` sets any of the facts the protocols read to true (yes),
  false (no) or null (not known yet);
- patients: `GET/PUT me/health-check/`, four short questions (do you smoke, take
  anti-inflammatory painkillers, take a blood thinner, have diabetes), answered yes, no or
  not sure.

Either way prepapp.workflows.patient_update_facts re-tailors the checklist at once and the
answer says what changed: the steps added, removed or kept, and the message the patient got.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from checklists import schedule
from prepapp import workflows
from prepapp.facts import FACTS
from prepapp.lib.client_address import client_ip
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.models import Patient
from prepapp.permissions import IsPatient, IsStaffMember, patient_of
from prepapp.selectors import patients_for_staff

FACT_HELP = "true: yes; false: no; null: not known yet (steps that depend on it are kept, marked “if this applies to you”)."

# The questions the patient answers in the app, and the facts they set.
HEALTH_CHECK_FACTS = ("smoker", "takes_nsaids", "on_blood_thinners", "diabetic")
ANSWERS = {"yes": True, "no": False, "not_sure": None}
ANSWER_OF = {value: answer for answer, value in ANSWERS.items()}
HEALTH_CHECK_HELP = {
    "smoker": "Do you smoke, vape or use any other nicotine?",
    "takes_nsaids": "Do you take anti-inflammatory painkillers (ibuprofen, naproxen, aspirin for pain)?",
    "on_blood_thinners": "Do you take a blood thinner?",
    "diabetic": "Do you have diabetes?",
}


class PatientFactsSerializer(StrictInputMixin, serializers.Serializer):
    """The facts the protocols read; in a write, any of them (at least one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in FACTS.items():
            self.fields[name] = serializers.BooleanField(
                allow_null=True, required=False, help_text=f"{label}. {FACT_HELP}"
            )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(f"Give at least one of: {', '.join(FACTS)}.")
        return attrs


class StepChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The step's id on the checklist; null once removed.")
    key = serializers.SlugField()
    title = serializers.CharField()
    conditional = serializers.BooleanField(help_text="It waits on a fact not known yet: “if this applies to you”.")


class ChangeMessageSerializer(serializers.Serializer):
    """The message the patient found in the app's inbox about this change."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()


class FactsChangeSerializer(serializers.Serializer):
    """What changing facts did to the checklist."""

    changed = serializers.ListField(
        child=serializers.ChoiceField(choices=list(FACTS)), help_text="The facts whose value changed."
    )
    added = StepChangeSerializer(many=True, help_text="Steps added: they now apply, or may.")
    removed = StepChangeSerializer(many=True, help_text="Open steps taken off: they no longer apply.")
    kept = StepChangeSerializer(
        many=True, help_text="Open steps that no longer apply but hold the patient's notes or answers: left in place."
    )
    message = ChangeMessageSerializer(allow_null=True, help_text="Null when nothing changed.")


class StaffFactsResultSerializer(FactsChangeSerializer):
    """The patient's facts after the change, and what the change did."""

    facts = PatientFactsSerializer()


def _step(task_or_definition, *, language: str, facts: dict, task_id=None) -> dict:
    definition = getattr(task_or_definition, "definition", task_or_definition)
    return {
        "id": task_id,
        "key": definition.key,
        "title": definition.localized(language)["title"],
        "conditional": bool(schedule.unknown_facts(definition.applies_if, facts)),
    }


def change_payload(result: workflows.FactsUpdate, *, language: str) -> dict:
    facts = result.patient.facts
    tailoring = result.retailoring
    message = result.message
    return {
        "changed": list(result.changed),
        "added": [_step(t, language=language, facts=facts, task_id=t.id) for t in tailoring.added],
        "removed": [_step(d, language=language, facts=facts) for d in tailoring.removed],
        "kept": [_step(t, language=language, facts=facts, task_id=t.id) for t in tailoring.kept],
        "message": {"id": message.id, "title": message.title, "body": message.body} if message else None,
    }


class PatientFactsView(APIView):
    """Staff: set what is known about a patient; the checklist is re-tailored at once."""

    permission_classes = [IsStaffMember]

    @extend_schema(
        operation_id="patients_facts_partial_update",
        tags=["patients"],
        request=PatientFactsSerializer,
        responses={200: StaffFactsResultSerializer, 404: error_response("No such patient in your organizations.")},
    )
    def patch(self, request, pk: int):
        patient = get_object_or_404(
            patients_for_staff(request.user), pk=pk
        )
        data = PatientFactsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = workflows.patient_update_facts(
            patient=patient, facts=data.validated_data, by=request.user, path=request.get_full_path(),
            ip=client_ip(request),
        )
        payload = change_payload(result, language=translation.get_language() or "en")
        return Response(StaffFactsResultSerializer({**payload, "facts": result.patient.facts}).data)


# --- The patient's health check ------------------------------------------------------------


class HealthCheckSerializer(StrictInputMixin, serializers.Serializer):
    """The patient's answers: yes, no or not sure ("not sure" keeps the steps, marked "if this applies to you")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in HEALTH_CHECK_FACTS:
            self.fields[name] = serializers.ChoiceField(choices=list(ANSWERS), help_text=HEALTH_CHECK_HELP[name])


class HealthCheckResultSerializer(FactsChangeSerializer):
    """The patient's answers as saved, and what they changed on the checklist."""

    answers = HealthCheckSerializer()


def answers_of(patient: Patient) -> dict:
    return {name: ANSWER_OF[getattr(patient, name)] for name in HEALTH_CHECK_FACTS}


class MyHealthCheckView(APIView):
    """The signed-in patient's health check: four questions that tailor the checklist to them."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_health_check_retrieve", tags=["me"], responses=HealthCheckSerializer)
    def get(self, request):
        return Response(HealthCheckSerializer(answers_of(patient_of(request.user))).data)

    @extend_schema(
        operation_id="me_health_check_update",
        tags=["me"],
        request=HealthCheckSerializer,
        responses=HealthCheckResultSerializer,
    )
    def put(self, request):
        patient = patient_of(request.user)
        data = HealthCheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = workflows.patient_update_facts(
            patient=patient, facts={name: ANSWERS[answer] for name, answer in data.validated_data.items()},
            by=request.user, path=request.get_full_path(), ip=client_ip(request),
        )
        payload = change_payload(result, language=result.patient.language)
        return Response(HealthCheckResultSerializer({**payload, "answers": answers_of(result.patient)}).data)
