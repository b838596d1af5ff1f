"""REST endpoints of the coordinator's roster: who is behind, one row per patient; and the same as CSV."""

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.generics import ListAPIView
from rest_framework.views import APIView

from prepapp.audit import audit_record
from prepapp.lib.schema import error_response
from prepapp.models import Patient, SurgeryCase
from prepapp.permissions import IsStaffMember
from prepapp.workflows import roster, roster_payload


class RosterCaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    surgery_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    status = serializers.ChoiceField(choices=SurgeryCase.Status.choices)
    procedure = serializers.CharField()
    surgeon = serializers.CharField(allow_blank=True)


class RosterStageSerializer(serializers.Serializer):
    key = serializers.SlugField()
    label = serializers.CharField(help_text="In the caller's language (Accept-Language), e.g. “Weeks 3–6: …”.")


class RosterRowSerializer(serializers.Serializer):
    """One patient's row, built from roster_payload.row_payload."""

    id = serializers.IntegerField()
    full_name = serializers.CharField()
    status = serializers.ChoiceField(choices=Patient.Status.choices, help_text="Active, discharged or archived.")
    organization = serializers.CharField(help_text="The organization's slug.")
    time_zone = serializers.CharField()
    today = serializers.DateField(help_text="Today's date in the patient's time zone.")
    case = RosterCaseSerializer(allow_null=True, help_text="The scheduled surgery, or else the latest one.")
    days_to_surgery = serializers.IntegerField(
        allow_null=True, help_text="Null unless the surgery is scheduled and its day has not passed (then see phase)."
    )
    tasks_total = serializers.IntegerField()
    tasks_done = serializers.IntegerField()
    share_done = serializers.FloatField(allow_null=True, help_text="0..1; null without a checklist.")
    overdue = serializers.IntegerField(
        help_text="Open tasks due before the patient's today that can still be done: preparation steps until the "
        "surgery day, recovery steps after it; none on a cancelled surgery."
    )
    late = serializers.IntegerField(
        help_text="Open steps whose time had already passed when they were assigned or moved (scheduled surgery only)."
    )
    not_enough_time = serializers.IntegerField(
        help_text="Open preparation steps whose minimum lead time could not be met when assigned or moved "
        "(until the surgery day): the care team should call the patient."
    )
    phase = serializers.ChoiceField(
        choices=["preparation", "recovery"], allow_null=True,
        help_text="preparation until the surgery day, recovery once it is done or its day has passed; "
        "null without a surgery or when it is cancelled.",
    )
    days_after_surgery = serializers.IntegerField(allow_null=True, help_text="In recovery: days since the surgery.")
    recovery_week = serializers.IntegerField(
        allow_null=True, help_text="In recovery: the week of recovery (1 is days 1–7)."
    )
    recovery_stage = RosterStageSerializer(allow_null=True, help_text="In recovery: the protocol's stage for today.")
    unread = serializers.IntegerField(help_text="In-app messages the patient has not read.")
    failed_deliveries = serializers.IntegerField(help_text="Reminders whose delivery failed.")
    open_alerts = serializers.IntegerField(
        help_text="Alerts about critical steps overdue too long that no one has acknowledged yet."
    )
    invitation_accepted = serializers.BooleanField()
    invitation_accepted_at = serializers.DateTimeField(allow_null=True)


ORDERING_PARAMETER = OpenApiParameter(
    "ordering",
    OpenApiTypes.STR,
    description="One of " + ", ".join(roster.ORDERINGS) + "; a leading “-” sorts descending.",
    enum=[*roster.ORDERINGS, *(f"-{name}" for name in roster.ORDERINGS)],
)
FILTER_PARAMETERS = [
    OpenApiParameter(
        "status", OpenApiTypes.STR, many=True, enum=list(roster.STATUS_CHOICES),
        description="Patients with this status (repeat for several; “all” for every one). Default: active.",
    ),
    OpenApiParameter("surgeon", OpenApiTypes.STR, description="Part of the current surgery's surgeon's name."),
    OpenApiParameter(
        "surgery_from", OpenApiTypes.DATE, description="Current surgery on or after this date (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "surgery_to", OpenApiTypes.DATE, description="Current surgery on or before this date (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "alerts", OpenApiTypes.STR, enum=["1", "0"],
        description="1: only patients with an alert (" + ", ".join(roster.ALERTS) + ").",
    ),
]
BAD_QUERY = error_response("An ordering or filter parameter could not be read (the parameter is named).")


def filtered_rows(request):
    """The roster rows for the request's ordering and filters; a 400 naming the parameter otherwise."""
    try:
        filters = roster.parse_filters(request.query_params)
        return roster.roster_rows(user=request.user, ordering=request.query_params.get("ordering"), filters=filters)
    except roster.UnknownOrdering as exc:
        choices = ", ".join(roster.ORDERINGS)
        raise serializers.ValidationError(
            {"ordering": [f"Unknown ordering “{exc}”. Use one of: {choices}; prefix “-” for descending."]}
        ) from exc
    except roster.InvalidFilter as exc:
        raise serializers.ValidationError({name: [message] for name, message in exc.errors.items()}) from exc


class RosterView(ListAPIView):
    """The patients of the caller's organizations with their figures, sortable with `?ordering=` and filtered.

    The roster shows each patient's figures, so every patient on the page returned gets a
    "list" audit entry, in the same transaction as the read.
    """

    permission_classes = [IsStaffMember]
    serializer_class = RosterRowSerializer

    def get_queryset(self):
        return filtered_rows(self.request)

    @extend_schema(
        operation_id="roster_list",
        parameters=[ORDERING_PARAMETER, *FILTER_PARAMETERS],
        responses={200: RosterRowSerializer, 400: BAD_QUERY},
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        with transaction.atomic():
            rows = self.paginate_queryset(self.get_queryset())
            audit_record(actor=request.user, patients=rows, action="list", request=request)
            data = self.get_serializer([roster_payload.row_payload(row) for row in rows], many=True).data
        return self.get_paginated_response(data)


class CsvRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv; the view writes the file itself, and errors stay JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data, "application/json", renderer_context)


class RosterCsvView(APIView):
    """The whole filtered roster (every page) as a CSV file, in the roster's order.

    Each patient in the file gets a "list" audit entry, as the roster's do. Text cells that a
    spreadsheet would run as a formula (starting with = + - @) begin with a quote.
    """

    permission_classes = [IsStaffMember]
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="roster_csv",
        parameters=[ORDERING_PARAMETER, *FILTER_PARAMETERS],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="UTF-8 CSV with a header line: " + ", ".join(n for n, _ in roster_payload.CSV_COLUMNS) + ".",
            ),
            400: BAD_QUERY,
            404: error_response("?format= names a format this endpoint does not give (csv, or json for errors)."),
        },
    )
    def get(self, request):
        rows = filtered_rows(request)
        with transaction.atomic():
            rows = list(rows)
            audit_record(actor=request.user, patients=rows, action="list", request=request)
        body = roster_payload.roster_csv(roster_payload.row_payload(row) for row in rows)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="roster-{stamp}.csv"'
        return response
