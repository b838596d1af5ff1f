"""Staff endpoints for the organization's patients: enrol, read, update, archive, discharge, reactivate, invite."""

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, Throttled
from rest_framework.response import Response

from prepapp import services, workflows
from prepapp.api.common import AuditedRetrieveMixin, validate_tz
from prepapp.api.health_questions import FACT_HELP
from prepapp.audit import audit_record
from prepapp.facts import FACT_NAMES, FACTS
from prepapp.lib.client_address import client_ip
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import LocalTimeModelSerializer, error_response
from prepapp.models import Patient
from prepapp.permissions import IsStaffMember, staff_organizations
from prepapp.selectors import patients_for_staff


class PatientSerializer(StrictInputMixin, LocalTimeModelSerializer):
    time_zone = serializers.CharField(validators=[validate_tz], required=False)
    invitation_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="The code to sign in with: shown once, when it is issued."
    )
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    confirm_duplicate = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="Enrol even though a patient with the same name and the same email or date of birth "
                  "exists (without it such an enrolment is answered 409 with the possible duplicates).",
    )

    class Meta:
        model = Patient
        fields = [
            "id", "organization", "full_name", "contact_email", "date_of_birth", "time_zone", "language",
            "weight_kg", *FACT_NAMES,
            "reminder_time", "quiet_hours_start", "quiet_hours_end", "push_enabled", "email_enabled", "inapp_enabled",
            "status", "status_changed_at", "status_reason",
            "invitation_code", "invitation_accepted_at", "created_at", "confirm_duplicate",
        ]
        read_only_fields = [
            "invitation_code", "invitation_accepted_at", "created_at", "status", "status_changed_at", "status_reason",
        ]
        extra_kwargs = {
            "weight_kg": {"min_value": 20, "max_value": 400},
            # Facts: true (yes), false (no) or null (not known yet, where a new patient starts).
            **{name: {"help_text": f"{label}. {FACT_HELP}"} for name, label in FACTS.items()},
        }

    def validate(self, attrs):
        if self.instance is not None:
            attrs.pop("confirm_duplicate", None)  # only enrolment asks about duplicates
        return attrs


class DuplicatePatientSerializer(serializers.Serializer):
    """A patient of the caller's organization who may be the one being enrolled."""

    id = serializers.IntegerField()
    full_name = serializers.CharField()
    contact_email = serializers.CharField(allow_blank=True)
    date_of_birth = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=Patient.Status.choices)
    created_at = serializers.DateTimeField()
    same_email = serializers.BooleanField()
    same_date_of_birth = serializers.BooleanField()


class PossibleDuplicateSerializer(serializers.Serializer):
    """409: patients with the same name and the same email or date of birth exist already."""

    detail = serializers.ListField(child=serializers.CharField())
    duplicates = DuplicatePatientSerializer(many=True)


POSSIBLE_DUPLICATE = (
    "A patient with the same name and the same email or date of birth is already enrolled. "
    "Open the existing record, or send the enrolment again with confirm_duplicate: true if this is another person."
)


class StatusChangeSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=200,
        help_text="Why, in a few words (e.g. “entered twice”, “care finished”). Kept with the record.",
    )


class InvitationEmailedSerializer(serializers.Serializer):
    sent_to = serializers.EmailField(help_text="The patient's address the new code was emailed to.")
    expires_at = serializers.DateTimeField(help_text="The new code works once, until then.")


class EmailNotSent(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The mail server did not accept the email. Nothing was changed: the earlier code still works."
    default_code = "email_not_sent"


STATUS_RESPONSES = {
    200: PatientSerializer,
    404: error_response("No such patient in your organizations (or erased a moment ago)."),
    409: error_response("The record was being changed at the same moment; nothing was saved. Try again."),
}


class PatientViewSet(AuditedRetrieveMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The organization's patients. A patient of another organization does not exist here (404)."""

    serializer_class = PatientSerializer
    permission_classes = [IsStaffMember]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's anonymous request
            return Patient.objects.none()
        return patients_for_staff(self.request.user).select_related(
            "organization"
        )

    def patients_shown(self, rows):
        return [patient.pk for patient in rows]

    def retrieve(self, request, *args, **kwargs):
        patient = self.get_object()
        self.audit([patient.pk])
        return Response(self.get_serializer(patient).data)

    @extend_schema(
        request=PatientSerializer,
        responses={
            201: PatientSerializer,
            409: OpenApiResponse(PossibleDuplicateSerializer, description=POSSIBLE_DUPLICATE),
        },
    )
    def create(self, request, *args, **kwargs):
        try:
            return super().create(request, *args, **kwargs)
        except services.PossibleDuplicate as found:
            return self._possible_duplicates(request, found.patients)

    def _possible_duplicates(self, request, patients):
        data = request.data if isinstance(request.data, dict) else {}
        email = str(data.get("contact_email") or "").strip().lower()
        born = str(data.get("date_of_birth") or "")
        with transaction.atomic():
            # The warning shows these patients' details: a read of each, like a list.
            audit_record(actor=request.user, patients=patients, action="list", request=request)
        duplicates = [
            {
                "id": p.pk, "full_name": p.full_name, "contact_email": p.contact_email,
                "date_of_birth": p.date_of_birth, "status": p.status, "created_at": p.created_at,
                "same_email": bool(email) and p.contact_email.lower() == email,
                "same_date_of_birth": p.date_of_birth is not None and p.date_of_birth.isoformat() == born,
            }
            for p in patients
        ]
        body = PossibleDuplicateSerializer({"detail": [POSSIBLE_DUPLICATE], "duplicates": duplicates}).data
        return Response(body, status=status.HTTP_409_CONFLICT)

    def perform_create(self, serializer):
        organizations = list(staff_organizations(self.request.user)[:2])
        if len(organizations) != 1:
            raise serializers.ValidationError({"organization": "You belong to several organizations; use the admin."})
        with transaction.atomic():
            serializer.instance = services.patient_enrol(organization=organizations[0], **serializer.validated_data)
            self.audit_action = "enrol"
            self.audit([serializer.instance.pk])

    def perform_update(self, serializer):
        # Facts among the changes re-tailor the checklist (workflows.patient_update_facts).
        serializer.instance = workflows.patient_update(
            patient=serializer.instance, by=self.request.user, path=self.request.get_full_path(),
            ip=client_ip(self.request), **serializer.validated_data,
        )

    def _set_status(self, request, status_value):
        patient = self.get_object()
        data = StatusChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = workflows.patient_set_status(
            patient=patient, status=status_value, by=request.user, reason=data.validated_data.get("reason", ""),
            request=request,
        )
        return Response(self.get_serializer(patient).data)

    @extend_schema(operation_id="patients_archive", request=StatusChangeSerializer, responses=STATUS_RESPONSES)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive: entered by mistake or no longer followed. Off the roster, nothing sent, the patient signed out."""
        return self._set_status(request, Patient.Status.ARCHIVED)

    @extend_schema(operation_id="patients_discharge", request=StatusChangeSerializer, responses=STATUS_RESPONSES)
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None):
        """Discharge: care finished. Off the roster, nothing sent; the patient can still open their record."""
        return self._set_status(request, Patient.Status.DISCHARGED)

    @extend_schema(operation_id="patients_reactivate", request=StatusChangeSerializer, responses=STATUS_RESPONSES)
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        """Make an archived or discharged record active again: back on the roster, reminders planned again."""
        return self._set_status(request, Patient.Status.ACTIVE)

    @extend_schema(
        operation_id="patients_invitation_email",
        request=None,
        responses={
            202: InvitationEmailedSerializer,
            400: error_response("The patient has no email address, or is archived."),
            429: error_response("Too many invitations emailed to this patient within the hour (see Retry-After)."),
            502: error_response("The mail server did not accept the email; nothing was changed."),
        },
    )
    @action(detail=True, methods=["post"], url_path="invitation/email")
    def invitation_email(self, request, pk=None):
        """Email the patient a fresh invitation code (earlier unused codes stop working); a few per hour."""
        patient = self.get_object()
        try:
            patient = services.patient_invitation_email(
                patient=patient, issued_by=request.user, path=request.get_full_path(), ip=client_ip(request)
            )
        except services.TooManyInvitationEmails as refused:
            raise Throttled(
                wait=refused.retry_after,
                detail=f"This patient was emailed {settings.INVITATION_EMAILS_PER_HOUR} invitations within the hour.",
            ) from refused
        except services.InvitationEmailNotSent as failed:
            raise EmailNotSent() from failed
        return Response(
            InvitationEmailedSerializer(
                {"sent_to": patient.contact_email, "expires_at": patient.invitation_expires_at}
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


# --- Staff: surgery cases ---------------------------------------------------------------
