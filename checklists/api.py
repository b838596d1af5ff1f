"""REST endpoints that read protocols and checklists, and the payloads the phone and the pages show.

Endpoints that change a checklist together with its reminders (ticking a step off) sit above,
in prepapp.api, next to the workflows they call.
"""

from functools import cache

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.api_schema import LocalTimeField, error_response
from prepapp.conditional import client_has, make_etag, not_modified, revalidate_privately
from prepapp.kept_bodies import KeptBodyResponse, forget_kept_bodies, kept_body, kept_body_key
from prepapp.lru import LRU
from prepapp.models import Patient, SurgeryCase
from prepapp.permissions import IsPatient, IsStaffMember, patient_of, staff_organization_ids

from . import schedule
from .calendar import checklist_calendar
from .models import Category, Checklist, Protocol, ProtocolVersion, Task, TaskDefinition
from .selectors import checklist_current, checklist_current_with_stamps

NO_CHECKLIST = "No checklist has been assigned to you yet."

LANGUAGE_PARAMETER = OpenApiParameter(
    "lang",
    str,
    enum=Patient.Language.values,
    description="The language of the steps' texts; defaults to the patient's own (English for the care team).",
)


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


@extend_schema_field({"type": "object", "additionalProperties": {"type": "boolean"}, "example": {"smoker": True}})
class ConditionsField(serializers.JSONField):
    """applies_if: {fact: true/false}; the step applies when every listed fact matches the patient's."""


class SubItemSpecSerializer(serializers.Serializer):
    key = serializers.SlugField()
    text = serializers.CharField()


class TargetSpecSerializer(serializers.Serializer):
    """A figure for the patient: a range per kilogram of body weight, or a fixed amount."""

    key = serializers.SlugField()
    kind = serializers.ChoiceField(choices=["per_kg_range", "fixed"])
    label = serializers.CharField(required=False)
    unit = serializers.CharField()
    min = serializers.FloatField(required=False, help_text="per_kg_range: the lower bound per kg.")
    max = serializers.FloatField(required=False, help_text="per_kg_range: the upper bound per kg.")
    value = serializers.FloatField(required=False, help_text="fixed: the amount.")


@extend_schema_field(SubItemSpecSerializer(many=True))
class SubItemSpecsField(serializers.JSONField):
    """sub_items: e.g. the questions for the surgeon."""


@extend_schema_field(TargetSpecSerializer(many=True))
class TargetSpecsField(serializers.JSONField):
    """targets: the figures the step asks for, before they are worked out for a patient."""


class TaskDefinitionSerializer(serializers.ModelSerializer):
    # The JSON columns as the protocol files define them (checklists.protocol_files checks them).
    applies_if = ConditionsField()
    sub_items = SubItemSpecsField()
    targets = TargetSpecsField()

    class Meta:
        model = TaskDefinition
        fields = [
            "key", "position", "category", "title", "instructions", "why", "source_section", "offset_days",
            "window_start_days", "window_end_days", "applies_if", "sub_items", "targets",
        ]


class ProtocolVersionDetailSerializer(ProtocolVersionSerializer):
    """A version with its steps in order."""

    definitions = TaskDefinitionSerializer(many=True, read_only=True)

    class Meta(ProtocolVersionSerializer.Meta):
        fields = [*ProtocolVersionSerializer.Meta.fields, "definitions"]


PROTOCOL_KEY_PARAMETER = OpenApiParameter(
    "key", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$", description="The protocol's key (a slug)."
)


@extend_schema_view(retrieve=extend_schema(parameters=[PROTOCOL_KEY_PARAMETER]))
class ProtocolViewSet(viewsets.ReadOnlyModelViewSet):
    """The protocols a coordinator can assign: the shipped ones and their organization's own."""

    serializer_class = ProtocolSerializer
    permission_classes = [IsStaffMember]
    lookup_field = "key"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's anonymous request
            return Protocol.objects.none()
        orgs = staff_organization_ids(self.request.user)
        return (
            Protocol.objects.filter(Q(organization__isnull=True) | Q(organization_id__in=orgs))
            .prefetch_related("versions")
            .order_by("name")
        )

    @extend_schema(
        operation_id="protocols_versions_retrieve",
        parameters=[
            PROTOCOL_KEY_PARAMETER,
            OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version's number."),
        ],
        responses=ProtocolVersionDetailSerializer,
    )
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)")
    def version(self, request, key=None, number=None):
        protocol = self.get_object()
        version = get_object_or_404(protocol.versions, number=number)
        return Response(ProtocolVersionDetailSerializer(version).data)


# --- The payloads the phone and the pages show ------------------------------------------------
# Built as plain dicts by the functions below (one query for a whole checklist); the
# serializers describe them for the API's schema.


class TaskSubItemSerializer(serializers.Serializer):
    key = serializers.SlugField()
    text = serializers.CharField(help_text="In the requested language.")
    answer = serializers.CharField(allow_blank=True, help_text="The patient's answer; empty until given.")


class TaskTargetSerializer(serializers.Serializer):
    """A figure worked out for the patient, e.g. grams of protein a day for their weight."""

    key = serializers.SlugField()
    label = serializers.CharField()
    text = serializers.CharField(help_text="The figure as shown, e.g. “84–112 g/day”.")
    unit = serializers.CharField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    value = serializers.FloatField(allow_null=True)


class TaskConditionSerializer(serializers.Serializer):
    """One condition of a step that reads a fact not known yet for the patient."""

    fact = serializers.ChoiceField(choices=schedule.FACT_NAMES)
    applies_when = serializers.BooleanField(help_text="The step applies when the fact turns out to be this.")


class TaskSerializer(serializers.Serializer):
    """One step as the phone shows it (task_payload): texts in the patient's language, personal figures."""

    id = serializers.IntegerField()
    key = serializers.SlugField()
    category = serializers.ChoiceField(choices=Category.choices)
    category_label = serializers.CharField()
    phase = serializers.ChoiceField(
        choices=[schedule.PREPARATION, schedule.RECOVERY],
        help_text="preparation for a step due on or before the surgery day, recovery for one after it.",
    )
    title = serializers.CharField()
    instructions = serializers.CharField()
    why = serializers.CharField(allow_blank=True)
    source_section = serializers.CharField(allow_blank=True)
    due_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    window_start = serializers.DateField(allow_null=True)
    window_end = serializers.DateField(allow_null=True)
    days_until_due = serializers.IntegerField(help_text="Negative once the due day has passed.")
    weeks_until_due = serializers.IntegerField(help_text="Whole weeks from today to the due day; 0 is this week.")
    late = serializers.BooleanField(help_text="Its window had already closed when it was assigned or moved.")
    start_now = serializers.BooleanField(
        help_text="Its planned day had passed when it was assigned or moved, but its window is open: "
        "it is due within a few days instead. False once done or once that new due day has passed."
    )
    not_enough_time = serializers.BooleanField(
        help_text="Open, before surgery, and when it was assigned or moved fewer days were left than its "
        "minimum lead time: the patient is asked to call the care team."
    )
    min_lead_days = serializers.IntegerField(
        allow_null=True, help_text="Days before surgery the step needs to work (e.g. 42 smoke-free); null when none."
    )
    lead_reason = serializers.CharField(
        allow_blank=True, help_text="Why the minimum lead time matters, in the requested language."
    )
    group = serializers.ChoiceField(choices=schedule.GROUPS, help_text="The section of the home screen it is in.")
    status = serializers.ChoiceField(choices=Task.Status.choices)
    completed_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(allow_blank=True)
    sub_items = TaskSubItemSerializer(many=True)
    targets = TaskTargetSerializer(many=True)
    conditional = serializers.BooleanField(
        help_text="On the list because a fact its condition reads is not known yet: show it as "
        "“if this applies to you”."
    )
    conditional_on = TaskConditionSerializer(
        many=True,
        help_text="The conditions waiting on a fact not known yet, e.g. [{\"fact\": \"smoker\", \"applies_when\": true}] "
        "(“if you smoke”); empty when not conditional.",
    )


class RecoveryStageSerializer(serializers.Serializer):
    """A stage of the recovery, by days after surgery, from the protocol."""

    key = serializers.SlugField()
    label = serializers.CharField(help_text="In the requested language, e.g. “Weeks 3–6: physical therapy, …”.")
    start_day = serializers.IntegerField(help_text="Its first day after surgery (1 is the day after).")
    end_day = serializers.IntegerField(help_text="Its last day after surgery.")


class CaseSummarySerializer(serializers.Serializer):
    """A surgery as the patient sees it (case_payload), with the countdown, or after it the recovery."""

    id = serializers.IntegerField()
    procedure = serializers.CharField(help_text="In the patient's language when the protocol translates it.")
    surgeon = serializers.CharField(allow_blank=True)
    surgery_date = serializers.DateField(help_text="Calendar date in the patient's time zone.")
    surgery_time = LocalTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=SurgeryCase.Status.choices)
    days_to_surgery = serializers.IntegerField(help_text="From the patient's today; negative once it has passed.")
    phase = serializers.ChoiceField(
        choices=[schedule.PREPARATION, schedule.RECOVERY], allow_null=True,
        help_text="preparation until the surgery day; recovery once the surgery is marked done or its day has "
        "passed; null when cancelled.",
    )
    days_after_surgery = serializers.IntegerField(
        allow_null=True, help_text="In recovery: days since the surgery day (1 is the day after); else null."
    )
    recovery_week = serializers.IntegerField(
        allow_null=True, help_text="In recovery: the week of recovery (days 1–7 are week 1); else null."
    )
    recovery_stage = RecoveryStageSerializer(
        allow_null=True, help_text="In recovery: the protocol's stage for today; null before, or after the last stage."
    )


class PreparationWeeksSerializer(serializers.Serializer):
    min = serializers.IntegerField()
    max = serializers.IntegerField()


class ChecklistProtocolSerializer(serializers.Serializer):
    key = serializers.SlugField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    procedure = serializers.CharField(help_text="The protocol's procedure, in the requested language.")
    preparation_weeks = PreparationWeeksSerializer(
        allow_null=True, help_text="How many weeks before surgery the preparation takes; null when not given."
    )
    summary = serializers.CharField(allow_blank=True, help_text="In the requested language.")
    recovery_stages = RecoveryStageSerializer(many=True, help_text="The stages of the recovery, in order.")


class ChecklistCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    overdue = serializers.IntegerField()
    this_week = serializers.IntegerField()
    not_enough_time = serializers.IntegerField(help_text="Open steps whose minimum lead time cannot be met.")


class ChecklistGroupsSerializer(serializers.Serializer):
    overdue = TaskSerializer(many=True)
    this_week = TaskSerializer(many=True)
    coming_up = TaskSerializer(many=True)
    done = TaskSerializer(many=True, help_text="Most recently done first.")


class ChecklistSerializer(serializers.Serializer):
    """The whole checklist grouped for a phone (checklist_payload)."""

    id = serializers.IntegerField()
    today = serializers.DateField(help_text="Today's date in the patient's time zone.")
    time_zone = serializers.CharField(help_text="The patient's IANA time zone, e.g. America/New_York.")
    case = CaseSummarySerializer()
    protocol = ChecklistProtocolSerializer()
    counts = ChecklistCountsSerializer()
    groups = ChecklistGroupsSerializer()


def lacks_time_now(task: Task, surgery_date, today) -> bool:
    """The stored not-enough-time mark, while it still matters: the step is open and the surgery is ahead."""
    return task.not_enough_time and task.status == Task.Status.OPEN and today <= surgery_date


# --- Work done once per protocol version and language ------------------------------------------
# A published version never changes (the admin and the services refuse to), so its steps, their
# texts in each language and their figures for a given weight are worked out once per process
# and kept, keyed by the version's id and content hash. Drafts are never kept.
_published_definitions = LRU(64)
# Per definition object: its texts by language, its figures by language and weight. Bounded, as
# weights vary from patient to patient.
_MEMO_LIMIT = 512


def is_frozen(version: ProtocolVersion) -> bool:
    """Published with its content hash: its steps never change, so they may be kept."""
    return not version.is_draft and bool(version.content_hash)


def version_definitions(version: ProtocolVersion, needed=()) -> dict[int, TaskDefinition]:
    """A version's steps by id: from the process's cache for a published version, else read now.

    `needed` are definition ids the caller holds tasks for; one missing from the cached set
    (a step added to the version after it was cached) reads the version again.
    """
    if not is_frozen(version):
        return {d.id: d for d in TaskDefinition.objects.filter(version_id=version.id)}
    key = (version.id, version.content_hash)
    definitions = _published_definitions.get(key)
    if definitions is None or not set(needed) <= definitions.keys():
        definitions = {d.id: d for d in TaskDefinition.objects.filter(version_id=version.id)}
        _published_definitions.put(key, definitions)
    return definitions


def clear_payload_caches() -> None:
    """Forget every kept version and rendered answer (for tests that count queries from a cold start)."""
    _published_definitions.clear()
    forget_kept_bodies()


def _memo(definition: TaskDefinition) -> dict:
    memo = definition.__dict__.get("_payload_memo")
    if memo is None or len(memo) > _MEMO_LIMIT:
        memo = definition.__dict__["_payload_memo"] = {}
    return memo


def definition_texts(definition: TaskDefinition, language: str) -> dict:
    """The step's words in the language, and its category's name in the request's (kept with the definition)."""
    key = ("texts", language, translation.get_language())
    memo = _memo(definition)
    texts = memo.get(key)
    if texts is None:
        texts = definition.localized(language)
        texts["category_label"] = str(definition.get_category_display())
        memo[key] = texts
    return texts


def definition_targets(definition: TaskDefinition, language: str, weight_kg) -> list[dict]:
    """The step's figures worked out for a weight, labelled in the language (kept with the definition)."""
    key = ("targets", language, weight_kg)
    memo = _memo(definition)
    targets = memo.get(key)
    if targets is None:
        labels = definition.translations.get(language, {}).get("targets", {})
        targets = memo[key] = [
            {"key": t.key, "label": t.label, "text": t.text, "unit": t.unit, "min": t.min, "max": t.max, "value": t.value}
            for t in schedule.compute_targets(definition.targets, weight_kg, labels)
        ]
    return [dict(t) for t in targets]


def task_payload(task: Task, *, language: str, weight_kg, today, facts=None) -> dict:
    """A task as the phone shows it: texts in the patient's language, personal figures, its section.

    `facts` are the patient's (read from the task's case when not given): a step whose
    condition reads a fact not known yet is marked conditional.
    """
    definition = task.definition
    unknown = schedule.unknown_facts(definition.applies_if, task.checklist.case.patient.facts if facts is None else facts)
    texts = definition_texts(definition, language)
    answers = task.answers or {}
    group = schedule.group_key(status=task.status, due_date=task.due_date, today=today)
    return {
        "id": task.id,
        "key": definition.key,
        "category": definition.category,
        "category_label": texts["category_label"],
        "phase": definition.phase,
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
        "start_now": schedule.is_start_now(
            status=task.status, due_date=task.due_date, window_start=task.window_start,
            offset_days=definition.offset_days, window_start_days=definition.window_start_days, today=today,
        ),
        "not_enough_time": lacks_time_now(task, task.checklist.case.surgery_date, today),
        "min_lead_days": definition.min_lead_days,
        "lead_reason": texts["lead_reason"],
        "group": group,
        "status": task.status,
        "completed_at": task.completed_at,
        "note": task.note,
        "sub_items": [{**item, "answer": answers.get(item["key"], "")} for item in texts["sub_items"]],
        "targets": definition_targets(definition, language, weight_kg),
        "conditional": bool(unknown),
        "conditional_on": [{"fact": name, "applies_when": bool(definition.applies_if[name])} for name in unknown],
    }


def stage_payload(version: ProtocolVersion, stage: dict, language: str) -> dict:
    return {
        "key": stage["key"],
        "label": version.localized_stage(stage, language),
        "start_day": stage["start_day"],
        "end_day": stage["end_day"],
    }


def case_payload(case: SurgeryCase, today, *, language: str = "", version: ProtocolVersion | None = None) -> dict:
    """The surgery as the patient sees it: before it, the countdown; after it, where the recovery is.

    With the checklist's protocol version, the procedure is in the patient's language and the
    recovery stage is the protocol's.
    """
    phase = schedule.case_phase(status=case.status, surgery_date=case.surgery_date, today=today)
    days_after = week = stage = None
    if phase == schedule.RECOVERY:
        days_after = max(0, (today - case.surgery_date).days)
        week = schedule.recovery_week(days_after)
        found = schedule.current_stage(version.recovery_stages, days_after) if version else None
        stage = stage_payload(version, found, language) if found else None
    return {
        "id": case.id,
        "procedure": version.procedure_for(case.procedure, language) if version else case.procedure,
        "surgeon": case.surgeon,
        "surgery_date": case.surgery_date,
        "surgery_time": case.surgery_time,
        "status": case.status,
        "days_to_surgery": (case.surgery_date - today).days,
        "phase": phase,
        "days_after_surgery": days_after,
        "recovery_week": week,
        "recovery_stage": stage,
    }


def protocol_payload(version: ProtocolVersion, language: str) -> dict:
    protocol = version.protocol
    return {
        "key": protocol.key,
        "name": protocol.name,
        "version": version.number,
        "procedure": version.localized_procedure(language),
        "preparation_weeks": version.preparation_weeks or None,
        "summary": version.localized_summary(language),
        "recovery_stages": [stage_payload(version, stage, language) for stage in version.recovery_stages],
    }


def checklist_tasks(checklist: Checklist) -> list[Task]:
    """The checklist's tasks with their definitions, in one query (definitions from the version's cache)."""
    tasks = list(Task.objects.filter(checklist=checklist))
    definitions = version_definitions(checklist.protocol_version, {t.definition_id for t in tasks})
    for task in tasks:
        Task.definition.field.set_cached_value(task, definitions[task.definition_id])
        Task.checklist.field.set_cached_value(task, checklist)
    return tasks


def checklist_payload(checklist: Checklist, *, language: str) -> dict:
    """The whole checklist grouped for a phone: overdue, this week, coming up, done.

    Reads the tasks in one query, whatever their number; the steps' texts come from the
    protocol version's cache.
    """
    case = checklist.case
    patient = case.patient
    today = patient.local_today()
    tasks = checklist_tasks(checklist)
    grouped = schedule.group_tasks(tasks, today)
    payload = {
        name: [task_payload(t, language=language, weight_kg=patient.weight_kg, today=today, facts=patient.facts)
               for t in items]
        for name, items in grouped.items()
    }
    version = checklist.protocol_version
    return {
        "id": checklist.id,
        "today": today,
        "time_zone": patient.time_zone,
        "case": case_payload(case, today, language=language, version=version),
        "protocol": protocol_payload(version, language),
        "counts": {
            "total": len(tasks),
            "done": len(grouped["done"]),
            "overdue": len(grouped["overdue"]),
            "this_week": len(grouped["this_week"]),
            "not_enough_time": sum(lacks_time_now(t, case.surgery_date, today) for t in tasks),
        },
        "groups": payload,
    }


# Changes whenever a field is added to, or removed from, what the checklist answer holds, so
# that a new release never answers 304 to a copy made by the old one. Raise PAYLOAD_REVISION
# when the meaning of a field changes without its name changing.
PAYLOAD_REVISION = 1


@cache
def payload_shape() -> str:
    shapes = [PAYLOAD_REVISION]
    for serializer in (ChecklistSerializer(), TaskSerializer(), CaseSummarySerializer(), TaskTargetSerializer(),
                       TaskSubItemSerializer(), ChecklistCountsSerializer(), ChecklistProtocolSerializer()):
        shapes.append((type(serializer).__name__, sorted(serializer.fields)))
    return make_etag(*shapes)


def checklist_etag(checklist: Checklist, *, patient: Patient, language: str, renderer: str) -> str:
    """The validator of the patient's checklist answer, from the stamps read with the checklist.

    Everything the answer depends on is in it: the patient (language, time zone and today
    there, weight, facts), the case, the protocol version (and its protocol's name and
    procedure), and the tasks' count, ids, change times and dates
    (checklists.selectors.checklist_current_with_stamps), the request's language and format,
    and the payload's shape. The process keeps the rendered answer under it
    (prepapp.conditional.KeptBodyResponse), so nothing the body shows may be missing here.
    """
    case, version = checklist.case, checklist.protocol_version
    return make_etag(
        payload_shape(), renderer, translation.get_language(), language,
        patient.pk, patient.time_zone, patient.local_today(), str(patient.weight_kg), sorted(patient.facts.items()),
        checklist.pk, version.pk, version.number, version.content_hash, version.protocol.key, version.protocol.name,
        version.protocol.procedure,
        case.pk, case.procedure, case.surgeon, case.surgery_date, case.surgery_time, case.status, case.updated_at,
        checklist.tasks_count, checklist.tasks_done, checklist.tasks_id_sum, checklist.tasks_changed_at,
        checklist.tasks_changed_sum, checklist.tasks_first_due, checklist.tasks_last_due,
    )


class MyChecklistView(APIView):
    """The signed-in patient's checklist, grouped for the phone.

    Answers `304 Not Modified` to `If-None-Match` with the current ETag: one query, no payload.
    """

    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[LANGUAGE_PARAMETER],
        responses={200: ChecklistSerializer, 304: None, 404: error_response(NO_CHECKLIST)},
    )
    def get(self, request):
        checklist = checklist_current_with_stamps(patient_of(request.user))
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        patient = checklist.case.patient  # read with the checklist, as it is now
        language = request.query_params.get("lang") or patient.language
        etag = checklist_etag(checklist, patient=patient, language=language, renderer=request.accepted_renderer.format)
        if client_has(request, etag):
            return not_modified(etag)
        # The same validator, the same body: a published version's answer rendered earlier in
        # this process is sent as is (a draft's steps can change without the ETag knowing).
        key = kept_body_key(request, etag) if is_frozen(checklist.protocol_version) else None
        kept = kept_body(key)
        if kept is not None:
            return revalidate_privately(KeptBodyResponse(key=key, kept=kept), etag)
        return revalidate_privately(KeptBodyResponse(checklist_payload(checklist, language=language), key=key), etag)


class ICalendarRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/calendar.

    The view writes the calendar itself; only error bodies are rendered here, and they stay
    JSON (with that content type), like every other error of the API.
    """

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data, "application/json", renderer_context)


class MyCalendarView(APIView):
    """The signed-in patient's surgery and open steps as an iCalendar (.ics) download."""

    permission_classes = [IsPatient]
    renderer_classes = [renderers.JSONRenderer, ICalendarRenderer]

    @extend_schema(
        operation_id="me_calendar_retrieve",
        parameters=[LANGUAGE_PARAMETER],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR,
                description="An iCalendar (RFC 5545) file: the surgery, and each open step as an all-day event.",
            ),
            404: error_response(NO_CHECKLIST),
        },
    )
    def get(self, request):
        patient = patient_of(request.user)
        checklist = checklist_current(patient)
        if checklist is None:
            raise NotFound(NO_CHECKLIST)
        body = checklist_calendar(checklist, language=request.query_params.get("lang") or patient.language)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="surgery-preparation.ics"'
        return response
