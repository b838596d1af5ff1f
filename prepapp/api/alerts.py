"""Staff alerts (overdue critical steps, check-in warning signs, missed check-ins): the list and acknowledging one."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.audit import audit_record
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.permissions import IsStaffMember, staff_organization_ids
from prepapp.reminders import escalation
from prepapp.reminders.models import Alert


class AlertSerializer(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.full_name")
    task_title = serializers.SerializerMethodField(help_text="The overdue step's title; empty for a check-in alert.")
    title = serializers.CharField(read_only=True, help_text="What the alert is about, in a few words.")
    acknowledged_by = serializers.SerializerMethodField()
    open = serializers.BooleanField(source="is_open")

    class Meta:
        model = Alert
        fields = [
            "id", "kind", "title", "patient", "patient_name", "task", "task_title", "check_in", "check_in_day", "due_date", "days_overdue", "raised_at", "open",
            "acknowledged_at", "acknowledged_by", "note",
        ]

    def get_task_title(self, alert) -> str | None:
        return alert.task.definition.title if alert.task_id else None

    def get_acknowledged_by(self, alert) -> str | None:
        return alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None


class AcknowledgeSerializer(StrictInputMixin, serializers.Serializer):
    note = serializers.CharField(
        max_length=escalation.NOTE_MAX_LENGTH, help_text="What was done: who was called, what they said."
    )


def staff_alerts(user):
    return Alert.objects.filter(organization_id__in=staff_organization_ids(user)).select_related(
        "patient", "task__definition", "acknowledged_by"
    )


@extend_schema(tags=["alerts"])
class AlertListView(generics.ListAPIView):
    """Alerts about critical steps overdue too long, in the caller's organizations (open first, then newest).

    `?state=open` (the default) or `all`; `?patient=<id>` for one patient. Reading it leaves
    an audit entry per patient listed.
    """

    serializer_class = AlertSerializer
    permission_classes = [IsStaffMember]

    def get_queryset(self):
        qs = staff_alerts(self.request.user).order_by("-raised_at", "-id")
        state = self.request.query_params.get("state", "open")
        if state not in ("open", "all"):
            raise serializers.ValidationError({"state": ["Use open or all."]})
        if state == "open":
            qs = qs.filter(acknowledged_at__isnull=True)
        patient = self.request.query_params.get("patient")
        if patient:
            if not patient.isdigit():
                raise serializers.ValidationError({"patient": ["A patient id is a number."]})
            qs = qs.filter(patient_id=int(patient))
        return qs

    @extend_schema(
        operation_id="alerts_list",
        parameters=[
            OpenApiParameter("state", str, enum=["open", "all"], description="open (default) or all."),
            OpenApiParameter("patient", int, description="Only this patient's alerts."),
        ],
        responses={200: AlertSerializer, 400: error_response("The state or the patient id is not valid.")},
    )
    def get(self, request, *args, **kwargs):
        response = self.list(request, *args, **kwargs)
        patients = {item["patient"] for item in response.data["results"]}
        audit_record(actor=request.user, patients=sorted(patients), action="list-alerts", request=request)
        return response


@extend_schema(tags=["alerts"])
class AlertAcknowledgeView(APIView):
    """Acknowledge an alert with a note saying what was done (audited). Another organization's is a 404."""

    permission_classes = [IsStaffMember]

    @extend_schema(
        operation_id="alerts_acknowledge",
        request=AcknowledgeSerializer,
        responses={200: AlertSerializer, 404: error_response("No such alert in your organizations.")},
    )
    def post(self, request, pk: int):
        alert = get_object_or_404(staff_alerts(request.user), pk=pk)
        data = AcknowledgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = escalation.alert_acknowledge(alert=alert, by=request.user, note=data.validated_data["note"],
                                             request=request)
        return Response(AlertSerializer(staff_alerts(request.user).get(pk=alert.pk)).data)
