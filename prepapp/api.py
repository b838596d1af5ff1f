"""REST endpoints for the care team and the patient: patients, surgeries, sign-in, "me" and the patient's steps.

These sit on top: they call the workflows (prepapp.workflows), which move cases, checklists
and reminders together.
"""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from checklists import services as checklist_services
from checklists.api import (
    LANGUAGE_PARAMETER,
    CaseSummarySerializer,
    ChecklistSerializer,
    TaskSerializer,
    case_payload,
    checklist_payload,
    task_payload,
)
from checklists.models import Checklist, Protocol, Task

from . import services, workflows
from .api_errors import StrictInputMixin
from .api_schema import LocalTimeField, LocalTimeModelSerializer, error_response
from .audit import audit_record, client_ip
from .conditional import client_has, make_etag, not_modified, revalidate_privately
from .health_check_api import FACT_HELP
from .models import FACTS, Patient, StaffMembership, SurgeryCase, validate_time_zone
from .permissions import IsPatient, IsStaffMember, patient_of, staff_organization_ids, staff_organizations
from .selectors import cases_current_first


def _validate_tz(value):
    try:
        validate_time_zone(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages[0]) from exc
    return value


class AuditedRetrieveMixin:
    """Staff reads of patients' records leave audit entries: one record read, or a list's page.

    A list shows patients' data too, so every patient on the page returned gets a "list"
    entry, written in the same transaction as the read.
    """

    audit_action = "read"

    def audit(self, patient_ids):
        audit_record(
            actor=self.request.user, patients=patient_ids, action=self.audit_action, request=self.request
        )

    def patients_shown(self, rows) -> list[int]:
        raise NotImplementedError

    def list(self, request, *args, **kwargs):
        with transaction.atomic():
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            rows = page if page is not None else list(self.filter_queryset(self.get_queryset()))
            audit_record(actor=request.user, patients=sorted(set(self.patients_shown(rows))), action="list",
                         request=request)
            data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)


# --- Staff: patients ---------------------------------------------------------------------


class PatientSerializer(StrictInputMixin, LocalTimeModelSerializer):
    time_zone = serializers.CharField(validators=[_validate_tz], required=False)
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
            "weight_kg", "smoker", "diabetic", "on_blood_thinners", "takes_nsaids", "bone_density_concern",
            "heart_or_lung_condition",
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


class PatientViewSet(AuditedRetrieveMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The organization's patients. A patient of another organization does not exist here (404)."""

    serializer_class = PatientSerializer
    permission_classes = [IsStaffMember]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's anonymous request
            return Patient.objects.none()
        return Patient.objects.filter(organization_id__in=staff_organization_ids(self.request.user)).select_related(
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
        self.audit_action = "update"
        self.audit([serializer.instance.pk])

    def _set_status(self, request, status_value):
        patient = self.get_object()
        data = StatusChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = workflows.patient_set_status(
            patient=patient, status=status_value, by=request.user, reason=data.validated_data.get("reason", ""),
            request=request,
        )
        return Response(self.get_serializer(patient).data)

    @extend_schema(operation_id="patients_archive", request=StatusChangeSerializer, responses=PatientSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive: entered by mistake or no longer followed. Off the roster, nothing sent, the patient signed out."""
        return self._set_status(request, Patient.Status.ARCHIVED)

    @extend_schema(operation_id="patients_discharge", request=StatusChangeSerializer, responses=PatientSerializer)
    @action(detail=True, methods=["post"])
    def discharge(self, request, pk=None):
        """Discharge: care finished. Off the roster, nothing sent; the patient can still open their record."""
        return self._set_status(request, Patient.Status.DISCHARGED)

    @extend_schema(operation_id="patients_reactivate", request=StatusChangeSerializer, responses=PatientSerializer)
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


class SurgeryCaseSerializer(StrictInputMixin, LocalTimeModelSerializer):
    days_to_surgery = serializers.SerializerMethodField()
    has_checklist = serializers.SerializerMethodField()

    class Meta:
        model = SurgeryCase
        fields = [
            "id", "patient", "procedure", "surgeon", "surgery_date", "surgery_time", "status",
            "days_to_surgery", "has_checklist", "created_at", "updated_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]
        # The booking service checks "one scheduled surgery per patient" and names the field.
        validators = []

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
                Patient.objects.filter(organization_id__in=staff_organization_ids(user))
                if user.is_authenticated
                else Patient.objects.none()
            )


class RescheduleSerializer(StrictInputMixin, serializers.Serializer):
    surgery_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    surgery_time = LocalTimeField(required=False, allow_null=True)


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
            SurgeryCase.objects.filter(patient__organization_id__in=staff_organization_ids(self.request.user))
            .select_related("patient", "checklist")
        )

    def patients_shown(self, rows):
        return [case.patient_id for case in rows]

    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        self.audit([case.patient_id])
        return Response(self.get_serializer(case).data)

    def perform_create(self, serializer):
        serializer.instance = workflows.case_book(**serializer.validated_data)

    def _done(self, case, code=status.HTTP_200_OK):
        case = self.get_queryset().get(pk=case.pk)
        return Response(self.get_serializer(case).data, status=code)

    @extend_schema(operation_id="cases_reschedule", request=RescheduleSerializer, responses=SurgeryCaseSerializer)
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        case = self.get_object()
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = workflows.case_reschedule(case=case, **data.validated_data)
        self.audit_action = "reschedule"
        self.audit([case.patient_id])
        return self._done(case)

    @extend_schema(operation_id="cases_cancel", request=None, responses=SurgeryCaseSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        case = workflows.case_cancel(case=self.get_object())
        self.audit_action = "cancel"
        self.audit([case.patient_id])
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
        case = workflows.case_complete(case=self.get_object())
        self.audit_action = "complete"
        self.audit([case.patient_id])
        return self._done(case)

    @extend_schema(operation_id="cases_assign", request=AssignSerializer, responses={201: ChecklistSerializer})
    @action(detail=True, methods=["post"], url_path="assign")
    def assign(self, request, pk=None):
        case = self.get_object()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        orgs = staff_organization_ids(request.user)
        protocol = Protocol.objects.filter(
            Q(organization__isnull=True) | Q(organization_id__in=orgs), key=data.validated_data["protocol"]
        ).first()
        if protocol is None:
            raise serializers.ValidationError({"protocol": "No protocol with this key."})
        number = data.validated_data.get("version")
        version = protocol.versions.filter(number=number).first() if number else protocol.latest_version()
        if version is None:
            raise serializers.ValidationError({"version": "This protocol has no such published version."})
        checklist = workflows.checklist_assign(case=case, protocol_version=version, assigned_by=request.user)
        self.audit_action = "assign"
        self.audit([case.patient_id])
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


def conditional_answer(request, data) -> Response:
    """A patient's own small read, with an ETag of its content: 304 when the phone's copy is current.

    The body is cheap to build here; the validator saves sending it again.
    """
    etag = make_etag(request.accepted_renderer.format, translation.get_language(), data)
    if client_has(request, etag):
        return not_modified(etag)
    return revalidate_privately(Response(data), etag)



@extend_schema_serializer(component_name="PatientProfile")
class MeSerializer(StrictInputMixin, LocalTimeModelSerializer):
    time_zone = serializers.CharField(validators=[_validate_tz], required=False)

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


MeResponseSerializer = PolymorphicProxySerializer(
    component_name="Me",
    serializers={"patient": MePatientSerializer, "staff": MeStaffSerializer, "other": MeStaffSerializer},
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


class TaskUpdateSerializer(StrictInputMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    answers = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=4000), required=False)


@extend_schema_view(
    retrieve=extend_schema(parameters=[LANGUAGE_PARAMETER], responses=TaskSerializer),
    partial_update=extend_schema(
        parameters=[LANGUAGE_PARAMETER], request=TaskUpdateSerializer, responses=TaskSerializer
    ),
)
class MyTaskViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One of the patient's own tasks: read it, tick it off, undo, note answers."""

    permission_classes = [IsPatient]
    serializer_class = TaskUpdateSerializer

    def get_queryset(self):
        return Task.objects.filter(checklist__case__patient=patient_of(self.request.user)).select_related(
            "definition", "checklist__case__patient"
        )

    def _respond(self, task):
        patient = patient_of(self.request.user)
        today = patient.local_today()
        language = self.request.query_params.get("lang") or patient.language
        return Response(
            task_payload(task, language=language, weight_kg=patient.weight_kg, today=today, facts=patient.facts)
        )

    def retrieve(self, request, pk=None):
        return self._respond(self.get_object())

    def partial_update(self, request, pk=None):
        task = self.get_object()
        serializer = TaskUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = checklist_services.task_record_answers(
            task=task, answers=serializer.validated_data.get("answers"), note=serializer.validated_data.get("note")
        )
        return self._respond(task)

    @extend_schema(
        operation_id="me_tasks_complete", parameters=[LANGUAGE_PARAMETER], request=None, responses=TaskSerializer
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = workflows.task_complete(task=self.get_object(), by=request.user, now=timezone.now())
        return self._respond(task)

    @extend_schema(
        operation_id="me_tasks_reopen", parameters=[LANGUAGE_PARAMETER], request=None, responses=TaskSerializer
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        task = workflows.task_reopen(task=self.get_object(), by=request.user)
        return self._respond(task)
