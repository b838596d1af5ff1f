"""Staff endpoints for surgery cases: book, move, cancel, mark done, assign a protocol, read the checklist."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from checklists.models import Checklist
from checklists.payload_schema import ChecklistSerializer
from checklists.payloads import checklist_payload
from checklists.selectors import protocols_for_staff
from prepapp import workflows
from prepapp.api.common import LANGUAGE_PARAMETER, AuditedRetrieveMixin
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import LocalTimeField, LocalTimeModelSerializer, error_response
from prepapp.models import Patient, SurgeryCase
from prepapp.permissions import IsStaffMember
from prepapp.procedures import LEVEL_MAX_LENGTH, Approach, normalise_level
from prepapp.selectors import cases_for_staff, patients_for_staff


class SurgeryCaseSerializer(StrictInputMixin, LocalTimeModelSerializer):
    days_to_surgery = serializers.SerializerMethodField()
    has_checklist = serializers.SerializerMethodField()

    class Meta:
        model = SurgeryCase
        fields = [
            "id", "patient", "procedure", "surgeon", "approach", "level", "surgery_date", "surgery_time",
            "arrival_time", "status", "days_to_surgery", "has_checklist", "created_at", "updated_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]
        # The booking service checks "one scheduled surgery per patient" and names the field.
        validators = []

    def validate_level(self, value: str) -> str:
        return level_from_input(value)

    def get_days_to_surgery(self, case) -> int:
        return case.days_to_surgery()

    def get_has_checklist(self, case) -> bool:
        return hasattr(case, "checklist")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and "patient" in self.fields:
            # Only the organization's own patients can be chosen; another's id reads as "not found".
            # (Anonymous callers, such as the schema generator's request, can choose none.)
            user = request.user
            self.fields["patient"].queryset = (
                patients_for_staff(user)
                if user.is_authenticated
                else Patient.objects.none()
            )


def level_from_input(value: str) -> str:
    """'l4-l5' -> 'L4–L5'; a level written any other way is refused, naming the field."""
    try:
        return normalise_level(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from exc


class DescribeSerializer(StrictInputMixin, serializers.Serializer):
    approach = serializers.ChoiceField(
        choices=Approach.choices, allow_blank=True,
        help_text="The way in the surgeon plans; empty when not known yet.",
    )
    level = serializers.CharField(
        max_length=LEVEL_MAX_LENGTH, allow_blank=True, trim_whitespace=True,
        help_text="The level fused, upper vertebra first: L4–L5, L5–S1, L3–L5 (a hyphen is fine); empty when not known.",
    )

    def validate_level(self, value: str) -> str:
        return level_from_input(value)


class RescheduleSerializer(StrictInputMixin, serializers.Serializer):
    surgery_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    surgery_time = LocalTimeField(required=False, allow_null=True)
    arrival_time = LocalTimeField(
        required=False, allow_null=True, help_text="When the patient arrives; left out, the one on record stays."
    )


class AssignSerializer(StrictInputMixin, serializers.Serializer):
    protocol = serializers.SlugField(help_text="The protocol's key, e.g. mis-lumbar-fusion.")
    version = serializers.IntegerField(required=False, min_value=1, help_text="Defaults to the latest version.")


class SurgeryCaseViewSet(AuditedRetrieveMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Book, move and cancel surgeries, and assign their preparation protocol."""

    serializer_class = SurgeryCaseSerializer
    permission_classes = [IsStaffMember]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's anonymous request
            return SurgeryCase.objects.none()
        return (
            cases_for_staff(self.request.user)
            .select_related("patient", "checklist")
        )

    def patients_shown(self, rows):
        return [case.patient_id for case in rows]

    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        self.audit([case.patient_id])
        return Response(self.get_serializer(case).data)

    def perform_create(self, serializer):
        serializer.instance = workflows.case_book(**serializer.validated_data, by=self.request.user,
                                                  request=self.request)

    def _done(self, case, code=status.HTTP_200_OK):
        case = self.get_queryset().get(pk=case.pk)
        return Response(self.get_serializer(case).data, status=code)

    @extend_schema(operation_id="cases_reschedule", request=RescheduleSerializer, responses=SurgeryCaseSerializer)
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        case = self.get_object()
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = workflows.case_reschedule(case=case, **data.validated_data, by=request.user, request=request)
        return self._done(case)

    @extend_schema(operation_id="cases_describe", request=DescribeSerializer,
                   responses={200: SurgeryCaseSerializer,
                              400: error_response("An approach not in the list, a level not written like L4–L5, "
                                                  "or a cancelled surgery.")})
    @action(detail=True, methods=["post"])
    def describe(self, request, pk=None):
        """Note the operation's approach and level: the patient's "About your surgery" opens with that approach."""
        case = self.get_object()
        data = DescribeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = workflows.case_describe(case=case, **data.validated_data, by=request.user, request=request)
        return self._done(case)

    @extend_schema(operation_id="cases_cancel", request=None, responses=SurgeryCaseSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        case = workflows.case_cancel(case=self.get_object(), by=request.user, request=request)
        return self._done(case)

    @extend_schema(
        operation_id="cases_complete",
        request=None,
        responses={
            200: SurgeryCaseSerializer,
            400: error_response("The surgery is cancelled, or its day has not come yet."),
        },
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Mark the surgery done (on or after its day): the patient's app turns to the recovery."""
        case = workflows.case_complete(case=self.get_object(), by=request.user, request=request)
        return self._done(case)

    @extend_schema(operation_id="cases_assign", request=AssignSerializer, responses={201: ChecklistSerializer})
    @action(detail=True, methods=["post"], url_path="assign")
    def assign(self, request, pk=None):
        case = self.get_object()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        protocol = protocols_for_staff(request.user).filter(key=data.validated_data["protocol"]).first()
        if protocol is None:
            raise serializers.ValidationError({"protocol": "No protocol with this key."})
        number = data.validated_data.get("version")
        version = protocol.versions.filter(number=number).first() if number else protocol.latest_version()
        if version is None:
            raise serializers.ValidationError({"version": "This protocol has no such published version."})
        checklist = workflows.checklist_assign(
            case=case, protocol_version=version, assigned_by=request.user, request=request
        )
        return Response(checklist_payload(checklist, language="en"), status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[LANGUAGE_PARAMETER],
        responses={200: ChecklistSerializer, 404: error_response("No such surgery, or no checklist assigned to it.")},
    )
    @action(detail=True, methods=["get"])
    def checklist(self, request, pk=None):
        case = self.get_object()
        checklist = (
            Checklist.objects.filter(case=case).select_related("case__patient", "protocol_version__protocol").first()
        )
        if checklist is None:
            raise NotFound("No checklist has been assigned to this surgery.")
        self.audit([case.patient_id])
        return Response(checklist_payload(checklist, language=request.query_params.get("lang", "en")))


# --- Patients: me -----------------------------------------------------------------------
