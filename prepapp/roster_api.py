"""REST endpoint of the coordinator's roster: who is behind, one row per patient."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from . import roster
from .api_schema import error_response
from .audit import audit_record
from .models import SurgeryCase
from .permissions import IsStaffMember


class RosterCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    surgery_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    status = serializers.ChoiceField(choices=SurgeryCase.Status.choices)
    procedure = serializers.CharField()


class RosterRowSerializer(serializers.Serializer):
    """One patient's row, built from roster.row_payload."""

    id = serializers.IntegerField()
    full_name = serializers.CharField()
    organization = serializers.CharField(help_text="The organization's slug.")
    time_zone = serializers.CharField()
    today = serializers.DateField(help_text="Today's date in the patient's time zone.")
    case = RosterCaseSerializer(allow_null=True, help_text="The scheduled surgery, or else the latest one.")
    days_to_surgery = serializers.IntegerField(allow_null=True, help_text="Null unless the surgery is scheduled.")
    tasks_total = serializers.IntegerField()
    tasks_done = serializers.IntegerField()
    share_done = serializers.FloatField(allow_null=True, help_text="0..1; null without a checklist.")
    overdue = serializers.IntegerField(help_text="Open tasks due before the patient's today (scheduled surgery only).")
    unread = serializers.IntegerField(help_text="In-app messages the patient has not read.")
    failed_deliveries = serializers.IntegerField(help_text="Reminders whose delivery failed.")
    open_alerts = serializers.IntegerField(
        help_text="Alerts about critical steps overdue too long that no one has acknowledged yet."
    )
    invitation_accepted = serializers.BooleanField()
    invitation_accepted_at = serializers.DateTimeField(allow_null=True)


class RosterView(ListAPIView):
    """The patients of the caller's organizations with their figures, sortable with `?ordering=`.

    The roster shows each patient's figures, so every patient on the page returned gets a
    "list" audit entry, in the same transaction as the read.
    """

    permission_classes = [IsStaffMember]
    serializer_class = RosterRowSerializer

    def get_queryset(self):
        try:
            return roster.roster_rows(user=self.request.user, ordering=self.request.query_params.get("ordering"))
        except roster.UnknownOrdering as exc:
            choices = ", ".join(roster.ORDERINGS)
            raise serializers.ValidationError(
                {"ordering": [f"Unknown ordering “{exc}”. Use one of: {choices}; prefix “-” for descending."]}
            ) from exc

    @extend_schema(
        operation_id="roster_list",
        parameters=[
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                description="One of " + ", ".join(roster.ORDERINGS) + "; a leading “-” sorts descending.",
                enum=[*roster.ORDERINGS, *(f"-{name}" for name in roster.ORDERINGS)],
            ),
        ],
        responses={200: RosterRowSerializer, 400: error_response("The ordering is not one of those listed.")},
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        with transaction.atomic():
            rows = self.paginate_queryset(self.get_queryset())
            audit_record(actor=request.user, patients=rows, action="list", request=request)
            data = self.get_serializer([roster.row_payload(row) for row in rows], many=True).data
        return self.get_paginated_response(data)
