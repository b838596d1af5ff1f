"""The safety net at home: the patient's safety card and check-ins; the care team's view and rule lifts."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.api.common import LANGUAGE_PARAMETER, conditional_answer
from prepapp.api.safety_schema import (
    AnswersField,
    CheckInFormSerializer,
    CheckInResultSerializer,
    SafetySerializer,
    StaffRuleSerializer,
    StaffSafetySerializer,
)
from prepapp.audit import audit_record
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.models import Patient
from prepapp.permissions import IsPatient, IsStaffMember, patient_of
from prepapp.selectors import case_current, patients_for_staff
from prepapp.workflows import safety, safety_payload

NOT_OPEN = "No check-in is open: before surgery, after week 6, or with no surgery booked."


def language_of(request, patient: Patient) -> str:
    language = request.query_params.get("lang") or patient.language
    if language not in Patient.Language.values:
        raise serializers.ValidationError({"lang": [f"Use one of {', '.join(Patient.Language.values)}."]})
    return language


def reply_title(urgency: str | None) -> str:
    if urgency == "emergency":
        return _("Call emergency services now")
    if urgency == "call_today":
        return _("Call your care team today")
    return _("Thank you for checking in")


@extend_schema(tags=["me"])
class MySafetyView(APIView):
    """The signed-in patient's safety card: rules in force, warning signs, the day of surgery, the check-in."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_safety_retrieve", parameters=[LANGUAGE_PARAMETER],
                   responses={200: SafetySerializer, 400: error_response("The language is not one of ours.")})
    def get(self, request):
        patient = patient_of(request.user)
        payload = safety_payload.patient_safety(patient, language=language_of(request, patient))
        return conditional_answer(request, payload)


class CheckInInputSerializer(StrictInputMixin, serializers.Serializer):
    answers = AnswersField(
        help_text="{question key: a whole number on its scale, or an option key}; questions left out are not answered."
    )


@extend_schema(tags=["me"])
class MyCheckInsView(APIView):
    """The check-in at home after surgery: its questions and history (GET), or today's answers (POST)."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_check_ins_retrieve", parameters=[LANGUAGE_PARAMETER],
                   responses={200: CheckInFormSerializer, 400: error_response("The language is not one of ours.")})
    def get(self, request):
        patient = patient_of(request.user)
        return conditional_answer(request, safety_payload.check_in_form(patient, language=language_of(request, patient)))

    @extend_schema(
        operation_id="me_check_ins_create", parameters=[LANGUAGE_PARAMETER], request=CheckInInputSerializer,
        responses={201: CheckInResultSerializer, 400: error_response("An answer is not valid (the field is named)."),
                   409: error_response(NOT_OPEN)},
    )
    def post(self, request):
        patient = patient_of(request.user)
        language = language_of(request, patient)
        data = CheckInInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            check_in, reply = safety.check_in_submit(
                patient=patient, answers=data.validated_data["answers"], language=language
            )
        except safety.AnswersInvalid as exc:
            raise serializers.ValidationError(exc.detail) from exc
        except safety.CheckInClosed as exc:
            return Response({"detail": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        version = reply["version"]
        signs = {s["key"]: s for s in (version.warning_signs or {}).get("signs", [])}
        with translation.override(language):
            title = reply_title(reply["urgency"] if check_in.urgency != "none" else None)
        body = {
            "id": check_in.id,
            "urgency": check_in.urgency,
            "reply": {"title": title, "text": reply["message"]},
            "signs": [
                {"key": key, "text": version.localized_warning_sign(signs[key], language)}
                for key in check_in.red_flags if key in signs
            ],
            "care_team": safety_payload.care_team(patient),
        }
        return Response(body, status=status.HTTP_201_CREATED)


# --- The care team's ---------------------------------------------------------------------------

NO_PATIENT = "No such patient in your organizations."
RULE_KEY = OpenApiParameter(
    "key", {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}, OpenApiParameter.PATH,
    description="The rule's key in the patient's protocol, e.g. no-driving.",
)


@extend_schema(tags=["patients"])
class PatientSafetyView(APIView):
    """Staff: a patient's rules (with lifts), check-ins, pain trend and blood thinner restart. An audited read."""

    permission_classes = [IsStaffMember]

    @extend_schema(operation_id="patients_safety_retrieve",
                   responses={200: StaffSafetySerializer, 404: error_response(NO_PATIENT)})
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = get_object_or_404(patients_for_staff(request.user).select_related("organization"), pk=pk)
            audit_record(actor=request.user, patients=[patient], action="read-safety", request=request)
            payload = safety_payload.staff_safety(patient)
        return Response(payload)


class LiftInputSerializer(StrictInputMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=safety.NOTE_MAX_LENGTH,
                                 help_text="Why, e.g. who allowed it.")


class ReinstateInputSerializer(StrictInputMixin, serializers.Serializer):
    pass


class _RuleChangeView(APIView):
    permission_classes = [IsStaffMember]
    input_serializer = LiftInputSerializer

    def change(self, request, case, key: str, **fields):
        raise NotImplementedError

    def post(self, request, pk: int, key: str):
        patient = get_object_or_404(patients_for_staff(request.user), pk=pk)
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = case_current(patient)
        if case is None:
            raise serializers.ValidationError({"rule_key": ["This patient has no surgery, so no rules."]})
        self.change(request, case, key, **data.validated_data)
        rule = safety_payload.staff_rule_payload(patient, case, key)
        if rule is None:
            raise NotFound("The rule is not in force for this patient today.")
        return Response(rule)


@extend_schema(tags=["patients"])
class RuleLiftView(_RuleChangeView):
    """Staff: lift a rule kept until lifted (e.g. the surgeon allows driving again); audited."""

    @extend_schema(operation_id="patients_rules_lift", request=LiftInputSerializer,
                   responses={200: StaffRuleSerializer, 400: error_response("No such rule, or it cannot be lifted."),
                              404: error_response(NO_PATIENT)},
                   parameters=[RULE_KEY])
    def post(self, request, pk: int, key: str):
        return super().post(request, pk, key)

    def change(self, request, case, key, note=""):
        safety.rule_lift(case=case, rule_key=key, by=request.user, note=note, request=request)


@extend_schema(tags=["patients"])
class RuleReinstateView(_RuleChangeView):
    """Staff: undo a lift; the rule is in force again; audited."""

    input_serializer = ReinstateInputSerializer

    @extend_schema(operation_id="patients_rules_reinstate", request=ReinstateInputSerializer,
                   responses={200: StaffRuleSerializer, 400: error_response("No such rule."),
                              404: error_response(NO_PATIENT)},
                   parameters=[RULE_KEY])
    def post(self, request, pk: int, key: str):
        return super().post(request, pk, key)

    def change(self, request, case, key):
        safety.rule_reinstate(case=case, rule_key=key, by=request.user, request=request)
