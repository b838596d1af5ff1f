"""The patient's own steps: read one, tick it off, undo, note answers."""

from django.utils import timezone
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from checklists import services as checklist_services
from checklists.models import Task
from checklists.payload_schema import TaskSerializer
from checklists.payloads import task_payload
from prepapp import workflows
from prepapp.api.common import LANGUAGE_PARAMETER
from prepapp.lib.errors import StrictCharField, StrictInputMixin
from prepapp.permissions import IsPatient, patient_of


class TaskUpdateSerializer(StrictInputMixin, serializers.Serializer):
    # Every answer of a step is text (checklists' sub-items): anything else is refused, naming its key.
    note = StrictCharField(required=False, allow_blank=True, max_length=4000)
    answers = serializers.DictField(
        child=StrictCharField(allow_blank=True, max_length=4000), required=False,
        help_text="{sub-item key: the patient's answer, as text}; a number or true/false is refused.",
    )


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
