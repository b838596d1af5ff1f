"""The caregivers who follow a patient: the patient's own list (invite, change, revoke) and the care team's.

The caregivers' own side (the patients they follow) is prepapp.api.following.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp import caregivers
from prepapp.audit import audit_record
from prepapp.lib.client_address import client_ip
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.models import CaregiverLink
from prepapp.permissions import IsPatient, IsStaffMember, patient_of
from prepapp.selectors import caregiver_links_of, patients_for_staff

NO_CAREGIVER = "No such caregiver."
NO_PATIENT = "No such patient."


class CaregiverSerializer(serializers.ModelSerializer):
    """A caregiver as the patient and their care team see them, and what they may do."""

    access_label = serializers.CharField(source="get_access_display", read_only=True,
                                         help_text="What they may do, in words (“Can see and tick off steps”).")
    invited_by_patient = serializers.SerializerMethodField(help_text="Invited by the patient (else by the care team).")
    live = serializers.SerializerMethodField(help_text="Follows the patient now (not revoked).")

    class Meta:
        model = CaregiverLink
        fields = [
            "id", "name", "relationship", "email", "language", "access", "access_label", "gets_reminders",
            "sees_health_facts", "invited_at", "invited_by_patient", "consent_note", "accepted_at", "revoked_at",
            "live",
        ]
        read_only_fields = fields

    def get_invited_by_patient(self, link) -> bool:
        return link.invited_by_id is not None and link.invited_by_id == link.patient.user_id

    def get_live(self, link) -> bool:
        return link.revoked_at is None


class FollowedPatientSerializer(serializers.ModelSerializer):
    """A patient the caregiver follows, and what the patient lets them do (for the caregiver)."""

    patient_name = serializers.CharField(source="patient.full_name")
    patient_language = serializers.CharField(source="patient.language")
    can_tick = serializers.BooleanField(help_text="May tick the patient's steps off (and undo).")

    class Meta:
        model = CaregiverLink
        fields = ["id", "patient_name", "patient_language", "relationship", "name", "access", "can_tick",
                  "sees_health_facts", "gets_reminders", "language"]
        read_only_fields = fields


class CaregiverInviteSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the patient calls them, e.g. “Ana”.")
    relationship = serializers.CharField(max_length=60, help_text="e.g. “daughter”, “neighbour”.")
    email = serializers.EmailField(max_length=254, help_text="Their own address: the sign-in link goes there.")
    language = serializers.ChoiceField(choices=CaregiverLink.Language.choices, default="en")
    access = serializers.ChoiceField(choices=CaregiverLink.Access.choices, default=CaregiverLink.Access.SEE)
    gets_reminders = serializers.BooleanField(default=True)
    sees_health_facts = serializers.BooleanField(default=False)


class StaffCaregiverInviteSerializer(CaregiverInviteSerializer):
    consent_note = serializers.CharField(
        max_length=300, help_text="How the patient agreed to this caregiver, e.g. “asked at the visit on 3 May”."
    )


class CaregiverChangeSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    relationship = serializers.CharField(max_length=60, required=False)
    language = serializers.ChoiceField(choices=CaregiverLink.Language.choices, required=False)
    access = serializers.ChoiceField(choices=CaregiverLink.Access.choices, required=False)
    gets_reminders = serializers.BooleanField(required=False)
    sees_health_facts = serializers.BooleanField(required=False)


class InvitationNotSent(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = caregivers.INVITATION_NOT_SENT


def invite(request, patient, data_class) -> Response:
    data = data_class(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        link = caregivers.caregiver_invite(
            patient=patient, invited_by=request.user, path=request.get_full_path(), ip=client_ip(request),
            **data.validated_data,
        )
    except caregivers.CaregiverInvitationNotSent as exc:
        raise InvitationNotSent() from exc
    return Response(CaregiverSerializer(link).data, status=status.HTTP_201_CREATED)


INVITE_RESPONSES = {
    201: CaregiverSerializer,
    400: error_response("A field is missing or wrong, or the person already follows the patient (named field)."),
    503: error_response("The mail server did not take the invitation; nobody was invited."),
}


@extend_schema(tags=["me"])
class MyCaregiversView(APIView):
    """The signed-in patient's caregivers (GET), or invite one by email (POST)."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_caregivers_list", responses={200: CaregiverSerializer(many=True)})
    def get(self, request):
        links = caregiver_links_of(patient_of(request.user)).select_related("patient")
        return Response(CaregiverSerializer(links, many=True).data)

    @extend_schema(operation_id="me_caregivers_create", request=CaregiverInviteSerializer, responses=INVITE_RESPONSES)
    def post(self, request):
        return invite(request, patient_of(request.user), CaregiverInviteSerializer)


@extend_schema(tags=["me"])
class MyCaregiverView(APIView):
    """One of the patient's caregivers: change what they may do (PATCH), or end their access now (DELETE)."""

    permission_classes = [IsPatient]

    def link(self, request, pk) -> CaregiverLink:
        link = caregiver_links_of(patient_of(request.user)).select_related("patient").filter(pk=pk).first()
        if link is None:
            raise NotFound(NO_CAREGIVER)
        return link

    @extend_schema(operation_id="me_caregivers_partial_update", request=CaregiverChangeSerializer,
                   responses={200: CaregiverSerializer, 400: error_response("A field is wrong, or access has ended."),
                              404: error_response(NO_CAREGIVER)})
    def patch(self, request, pk: int):
        link = self.link(request, pk)
        data = CaregiverChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = caregivers.caregiver_update(
            link=link, changed_by=request.user, path=request.get_full_path(), ip=client_ip(request),
            **data.validated_data,
        )
        return Response(CaregiverSerializer(link).data)

    @extend_schema(operation_id="me_caregivers_destroy", request=None,
                   responses={200: CaregiverSerializer, 404: error_response(NO_CAREGIVER)})
    def delete(self, request, pk: int):
        link = caregivers.caregiver_revoke(
            link=self.link(request, pk), revoked_by=request.user, path=request.get_full_path(), ip=client_ip(request)
        )
        return Response(CaregiverSerializer(link).data)


@extend_schema(tags=["patients"])
class PatientCaregiversView(APIView):
    """A patient's caregivers and what each may do (GET); invite one with the patient's consent noted (POST)."""

    permission_classes = [IsStaffMember]

    def patient(self, request, pk):
        patient = patients_for_staff(request.user).filter(pk=pk).first()
        if patient is None:
            raise NotFound(NO_PATIENT)
        return patient

    @extend_schema(operation_id="patients_caregivers_list",
                   responses={200: CaregiverSerializer(many=True), 404: error_response(NO_PATIENT)})
    def get(self, request, pk: int):
        patient = self.patient(request, pk)
        with transaction.atomic():
            audit_record(actor=request.user, patients=[patient], action="read-caregivers", request=request)
            links = list(caregiver_links_of(patient).select_related("patient"))
        return Response(CaregiverSerializer(links, many=True).data)

    @extend_schema(operation_id="patients_caregivers_create", request=StaffCaregiverInviteSerializer,
                   responses={**INVITE_RESPONSES, 404: error_response(NO_PATIENT)})
    def post(self, request, pk: int):
        return invite(request, self.patient(request, pk), StaffCaregiverInviteSerializer)
