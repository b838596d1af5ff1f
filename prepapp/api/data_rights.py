"""Endpoints for a patient's data rights: download everything as JSON; staff erase a patient.

The download is put together here, above both the workflows' export of the records and the FHIR
mapping, so that it can carry the patient's `$everything` Bundle too without the workflows
reaching up into the FHIR layer.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.api.fhir_schema import FhirBundleSerializer
from prepapp.fhir.patient_plan import everything_bundle
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.permissions import IsPatient, IsStaffMember, patient_of
from prepapp.selectors import patients_for_staff
from prepapp.workflows import data_rights


# What the export contains, for the schema (the view writes the file itself, as a download).
class ExportedTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    due_date = serializers.DateField()
    window_start = serializers.DateField(allow_null=True)
    window_end = serializers.DateField(allow_null=True)
    status = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(allow_blank=True)
    answers = serializers.DictField(child=serializers.CharField(allow_blank=True))


class ExportedChecklistSerializer(serializers.Serializer):
    protocol = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    tasks = ExportedTaskSerializer(many=True)


class ExportedSurgerySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    procedure = serializers.CharField()
    surgeon = serializers.CharField(allow_blank=True)
    surgery_date = serializers.DateField()
    surgery_time = serializers.CharField(allow_null=True, help_text="HH:MM:SS, the patient's wall-clock time.")
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    checklist = ExportedChecklistSerializer(allow_null=True)


class ExportedReminderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task_id = serializers.IntegerField(allow_null=True, help_text="Null for a daily digest.")
    task_id = serializers.IntegerField(allow_null=True, help_text="Null for an announcement (surgery booked, moved, cancelled).")
    rule = serializers.CharField()
    channel = serializers.CharField()
    anchor_date = serializers.DateField()
    send_at = serializers.DateTimeField()
    status = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True, help_text="When the patient opened it.")


class ExportedDeliverySerializer(serializers.Serializer):
    reminder_id = serializers.IntegerField()
    channel = serializers.CharField()
    outcome = serializers.CharField()
    at = serializers.DateTimeField()


class ExportedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()
    task_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class ExportedSubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    user_agent = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)


class ExportedCalendarFeedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What the feed's events show: `titles` or `private`.")
    created_at = serializers.DateTimeField()
    last_fetched_at = serializers.DateTimeField(allow_null=True)


class ExportedAccessSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField()
    action = serializers.CharField()


class ExportedProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.CharField()
    full_name = serializers.CharField()
    contact_email = serializers.CharField(allow_blank=True)
    date_of_birth = serializers.DateField(allow_null=True)
    time_zone = serializers.CharField()
    language = serializers.CharField()
    weight_kg = serializers.CharField(allow_null=True, help_text="Kilograms, as a decimal string.")
    smoker = serializers.BooleanField(allow_null=True)
    diabetic = serializers.BooleanField(allow_null=True)
    on_blood_thinners = serializers.BooleanField(allow_null=True)
    takes_nsaids = serializers.BooleanField(allow_null=True)
    bone_density_concern = serializers.BooleanField(allow_null=True)
    heart_or_lung_condition = serializers.BooleanField(allow_null=True)
    reminder_time = serializers.CharField(help_text="HH:MM:SS, the patient's wall-clock time.")
    quiet_hours_start = serializers.CharField()
    quiet_hours_end = serializers.CharField()
    push_enabled = serializers.BooleanField()
    email_enabled = serializers.BooleanField()
    inapp_enabled = serializers.BooleanField()
    reminder_style = serializers.CharField()
    channel_policy = serializers.CharField()
    created_at = serializers.DateTimeField()
    invitation_accepted_at = serializers.DateTimeField(allow_null=True)


class ExportedCaregiverSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    relationship = serializers.CharField()
    email = serializers.CharField()
    language = serializers.CharField()
    access = serializers.CharField(help_text="`see`, or `see_and_tick` (may tick steps off).")
    gets_reminders = serializers.BooleanField()
    sees_health_facts = serializers.BooleanField()
    invited_at = serializers.DateTimeField()
    consent_note = serializers.CharField(allow_blank=True, help_text="How the patient agreed, when the care team invited.")
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class DataExportSerializer(serializers.Serializer):
    exported_at = serializers.DateTimeField()
    patient = ExportedProfileSerializer()
    surgeries = ExportedSurgerySerializer(many=True)
    reminders = ExportedReminderSerializer(many=True)
    delivery_log = ExportedDeliverySerializer(many=True)
    inbox = ExportedMessageSerializer(many=True)
    push_subscriptions = ExportedSubscriptionSerializer(many=True)
    calendar_feeds = ExportedCalendarFeedSerializer(
        many=True, help_text="The private calendar links (their choice; the secret itself is not kept)."
    )
    caregivers = ExportedCaregiverSerializer(many=True, help_text="Who follows (or followed) the patient.")
    record_access = ExportedAccessSerializer(many=True)
    fhir = FhirBundleSerializer(
        help_text="The same records as FHIR R4: the Bundle of /fhir/R4/Patient/{id}/$everything (Patient, "
                  "Appointment, CarePlan, Task, CommunicationRequest, Communication), for another provider's systems."
    )


class MyDataExportView(APIView):
    """All of the signed-in patient's data, as a JSON file to keep."""

    permission_classes = [IsPatient]

    @extend_schema(
        responses={200: OpenApiResponse(DataExportSerializer, description="Every record held, as a file download.")},
        tags=["me"], operation_id="me_export_retrieve",
    )
    def get(self, request):
        patient = patient_of(request.user)
        # One snapshot: the records and their FHIR form read in the same transaction.
        with transaction.atomic():
            export = data_rights.patient_export(patient=patient)
            export["fhir"] = everything_bundle(patient).model_dump(mode="json")
        body = json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="my-surgery-preparation-data.json"'
        return response


class EraseSerializer(StrictInputMixin, serializers.Serializer):
    confirm_full_name = serializers.CharField(
        max_length=200, help_text="The patient's full name, typed again: erasure cannot be undone."
    )


RACED = "The record was being changed at the same moment (a discharge, a tick…); nothing was erased. Try again."


class PatientEraseView(APIView):
    """Erase a patient of the caller's organization: record and login deleted, audit trail kept."""

    permission_classes = [IsStaffMember]

    @extend_schema(
        request=EraseSerializer,
        responses={
            200: inline_serializer("Erased", {"erased": serializers.BooleanField(), "reference": serializers.CharField()}),
            404: error_response("No such patient in your organizations (or erased a moment ago)."),
            409: error_response(RACED),
        },
        tags=["patients"], operation_id="patients_erase_create",
    )
    def post(self, request, pk: int):
        patient = get_object_or_404(
            patients_for_staff(request.user), pk=pk
        )
        data = EraseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["confirm_full_name"].strip() != patient.full_name:
            raise serializers.ValidationError({"confirm_full_name": ["This is not the patient's full name."]})
        erased_id = data_rights.patient_erase(patient=patient, by=request.user, request=request)
        return Response({"erased": True, "reference": f"patient-{erased_id}"})
