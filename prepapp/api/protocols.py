"""The protocols a coordinator can assign, and a version's steps, read-only."""


from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from checklists.models import Protocol, ProtocolVersion, TaskDefinition
from checklists.selectors import protocols_for_staff
from prepapp.permissions import IsStaffMember


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
        return (
            protocols_for_staff(self.request.user)
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
