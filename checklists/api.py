"""REST endpoints that read protocols and checklists, and the payloads the phone and the pages show.

Endpoints that change a checklist together with its reminders (ticking a step off) sit above,
in prepapp.api, next to the workflows they call.
"""

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.models import SurgeryCase
from prepapp.permissions import IsPatient, IsStaffMember, patient_of, staff_organization_ids

from . import schedule
from .calendar import checklist_calendar
from .models import Checklist, Protocol, ProtocolVersion, Task, TaskDefinition
from .selectors import checklist_current


class ProtocolVersionSerializer(serializers.ModelSerializer):
    task_count = serializers.IntegerField(source="definitions.count", read_only=True)

    class Meta:
        model = ProtocolVersion
        fields = ["id", "number", "created_at", "published_at", "task_count"]


class ProtocolSerializer(serializers.ModelSerializer):
    versions = ProtocolVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Protocol
        fields = ["id", "key", "name", "procedure", "versions"]


class TaskDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaskDefinition
        fields = [
            "key", "position", "category", "title", "instructions", "why", "source_section", "offset_days",
            "window_start_days", "window_end_days", "applies_if", "sub_items", "targets",
        ]


class ProtocolViewSet(viewsets.ReadOnlyModelViewSet):
    """The protocols a coordinator can assign: the shipped ones and their organization's own."""

    serializer_class = ProtocolSerializer
    permission_classes = [IsStaffMember]
    lookup_field = "key"

    def get_queryset(self):
        orgs = staff_organization_ids(self.request.user)
        return (
            Protocol.objects.filter(Q(organization__isnull=True) | Q(organization_id__in=orgs))
            .prefetch_related("versions")
            .order_by("name")
        )

    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)")
    def version(self, request, key=None, number=None):
        protocol = self.get_object()
        version = get_object_or_404(protocol.versions, number=number)
        definitions = TaskDefinitionSerializer(version.definitions.order_by("position"), many=True).data
        return Response({**ProtocolVersionSerializer(version).data, "definitions": definitions})


def task_payload(task: Task, *, language: str, weight_kg, today) -> dict:
    """A task as the phone shows it: texts in the patient's language, personal figures, its section."""
    definition = task.definition
    texts = definition.localized(language)
    answers = task.answers or {}
    target_labels = definition.translations.get(language, {}).get("targets", {})
    group = schedule.group_key(status=task.status, due_date=task.due_date, today=today)
    return {
        "id": task.id,
        "key": definition.key,
        "category": definition.category,
        "category_label": str(definition.get_category_display()),
        "title": texts["title"],
        "instructions": texts["instructions"],
        "why": texts["why"],
        "source_section": definition.source_section,
        "due_date": task.due_date,
        "window_start": task.window_start,
        "window_end": task.window_end,
        "days_until_due": (task.due_date - today).days,
        "weeks_until_due": schedule.week_label_start(task.due_date, today),
        "late": task.late,
        "group": group,
        "status": task.status,
        "completed_at": task.completed_at,
        "note": task.note,
        "sub_items": [{**item, "answer": answers.get(item["key"], "")} for item in texts["sub_items"]],
        "targets": [
            {"key": t.key, "label": t.label, "text": t.text, "unit": t.unit, "min": t.min, "max": t.max, "value": t.value}
            for t in schedule.compute_targets(definition.targets, weight_kg, target_labels)
        ],
    }


def case_payload(case: SurgeryCase, today) -> dict:
    return {
        "id": case.id,
        "procedure": case.procedure,
        "surgeon": case.surgeon,
        "surgery_date": case.surgery_date,
        "surgery_time": case.surgery_time,
        "status": case.status,
        "days_to_surgery": (case.surgery_date - today).days,
    }


def checklist_payload(checklist: Checklist, *, language: str) -> dict:
    """The whole checklist grouped for a phone: overdue, this week, coming up, done.

    Reads the tasks with their definitions in one query, whatever their number.
    """
    case = checklist.case
    patient = case.patient
    today = patient.local_today()
    tasks = list(checklist.tasks.select_related("definition"))
    grouped = schedule.group_tasks(tasks, today)
    payload = {
        name: [task_payload(t, language=language, weight_kg=patient.weight_kg, today=today) for t in items]
        for name, items in grouped.items()
    }
    return {
        "id": checklist.id,
        "today": today,
        "time_zone": patient.time_zone,
        "case": case_payload(case, today),
        "protocol": {"key": checklist.protocol_version.protocol.key, "name": checklist.protocol_version.protocol.name,
                     "version": checklist.protocol_version.number},
        "counts": {
            "total": len(tasks),
            "done": len(grouped["done"]),
            "overdue": len(grouped["overdue"]),
            "this_week": len(grouped["this_week"]),
        },
        "groups": payload,
    }


class MyChecklistView(APIView):
    """The signed-in patient's checklist, grouped for the phone."""

    permission_classes = [IsPatient]

    @extend_schema(responses={200: dict})
    def get(self, request):
        patient = patient_of(request.user)
        checklist = checklist_current(patient)
        if checklist is None:
            return Response({"detail": "No checklist has been assigned to you yet."}, status=404)
        language = request.query_params.get("lang") or patient.language
        return Response(checklist_payload(checklist, language=language))


class MyCalendarView(APIView):
    """The signed-in patient's surgery and open steps as an iCalendar (.ics) download."""

    permission_classes = [IsPatient]

    @extend_schema(responses={(200, "text/calendar"): bytes})
    def get(self, request):
        patient = patient_of(request.user)
        checklist = checklist_current(patient)
        if checklist is None:
            return Response({"detail": "No checklist has been assigned to you yet."}, status=404)
        body = checklist_calendar(checklist, language=request.query_params.get("lang") or patient.language)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="surgery-preparation.ics"'
        return response
