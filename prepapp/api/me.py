"""The signed-in person ("me"): a patient's profile and preferences, a staff member's roles, the patient's surgery."""

from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from checklists.payload_schema import CaseSummarySerializer
from checklists.payloads import case_payload
from prepapp import workflows
from prepapp.api.caregivers import FollowedPatientSerializer
from prepapp.api.common import conditional_answer, validate_tz
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import LocalTimeModelSerializer, error_response
from prepapp.models import Patient, StaffMembership
from prepapp.permissions import IsPatient, patient_of
from prepapp.selectors import caregiver_links_followed, cases_current_first


@extend_schema_serializer(component_name="PatientProfile")
class MeSerializer(StrictInputMixin, LocalTimeModelSerializer):
    time_zone = serializers.CharField(validators=[validate_tz], required=False)

    class Meta:
        model = Patient
        fields = [
            "id", "full_name", "contact_email", "time_zone", "language", "weight_kg",
            "reminder_time", "quiet_hours_start", "quiet_hours_end", "push_enabled", "email_enabled", "inapp_enabled",
            "reminder_style", "channel_policy",
        ]
        read_only_fields = ["id", "full_name", "contact_email", "weight_kg"]
        extra_kwargs = {
            "reminder_style": {
                "help_text": "`digest`: one message a day listing what is due, starting and overdue (critical "
                "steps also on their own); `per_step`: one message per step."
            },
            "channel_policy": {
                "help_text": "`push_then_email`: push, and email only when push did not reach the patient; "
                "`both`: push and email side by side."
            },
        }


class MePatientSerializer(serializers.Serializer):
    """A signed-in patient: their profile and reminder preferences."""

    kind = serializers.ChoiceField(choices=["patient"])
    patient = MeSerializer()


class MembershipSerializer(serializers.ModelSerializer):
    organization = serializers.CharField(source="organization.name", help_text="The organization's name.")
    organization_slug = serializers.SlugField(source="organization.slug")

    class Meta:
        model = StaffMembership
        fields = ["organization", "organization_slug", "role"]


class MeStaffSerializer(serializers.Serializer):
    """Anyone else signed in: a care-team member ("staff") or an account with no role here ("other")."""

    kind = serializers.ChoiceField(choices=["staff", "other"])
    username = serializers.CharField()
    memberships = MembershipSerializer(many=True)


class MeCaregiverSerializer(serializers.Serializer):
    """A caregiver signed in with their own account: the patients they follow (no patient's profile)."""

    kind = serializers.ChoiceField(choices=["caregiver"])
    following = FollowedPatientSerializer(many=True)


MeResponseSerializer = PolymorphicProxySerializer(
    component_name="Me",
    serializers={"patient": MePatientSerializer, "caregiver": MeCaregiverSerializer, "staff": MeStaffSerializer,
                 "other": MeStaffSerializer},
    resource_type_field_name="kind",
)


class MeView(APIView):
    """Who the signed-in person is: a patient's profile and preferences, or a staff member's roles."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="me_retrieve", responses=MeResponseSerializer)
    def get(self, request):
        patient = patient_of(request.user)
        if patient is not None:
            return conditional_answer(request, MePatientSerializer({"kind": "patient", "patient": patient}).data)
        followed = list(caregiver_links_followed(request.user))
        if followed:
            return Response(MeCaregiverSerializer({"kind": "caregiver", "following": followed}).data)
        memberships = StaffMembership.objects.filter(user=request.user).select_related("organization")
        return Response(
            MeStaffSerializer(
                {"kind": "staff" if memberships else "other", "username": request.user.get_username(),
                 "memberships": memberships}
            ).data
        )

    @extend_schema(
        operation_id="me_partial_update",
        request=MeSerializer,
        responses={200: MeSerializer, 403: error_response("Only patients have preferences here.")},
    )
    def patch(self, request):
        patient = patient_of(request.user)
        if patient is None:
            raise PermissionDenied("Only patients have preferences here.")
        serializer = MeSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = workflows.patient_update(patient=patient, **serializer.validated_data)
        return Response(MeSerializer(patient).data)


class MyCaseSerializer(CaseSummarySerializer):
    """The patient's surgery with the countdown, and the day and zone it is counted from."""

    today = serializers.DateField(help_text="Today's date in the patient's time zone.")
    time_zone = serializers.CharField(help_text="The patient's IANA time zone, e.g. America/New_York.")


NO_CASE = "No surgery has been booked for you yet."


class MyCaseView(APIView):
    """The signed-in patient's surgery with the countdown in days, in the patient's time zone."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_case_retrieve", responses={200: MyCaseSerializer, 404: error_response(NO_CASE)})
    def get(self, request):
        patient = patient_of(request.user)
        # The case with its checklist's protocol version (for the procedure's translation) in one query.
        case = (
            cases_current_first(patient)
            .select_related("patient", "checklist__protocol_version__protocol")
            .first()
        )
        if case is None:
            raise NotFound(NO_CASE)
        today = patient.local_today()
        checklist = getattr(case, "checklist", None)
        version = checklist.protocol_version if checklist else None
        payload = case_payload(case, today, language=patient.language, version=version)
        return conditional_answer(request, {**payload, "today": today, "time_zone": patient.time_zone})


# --- Patients: their steps ------------------------------------------------------------
