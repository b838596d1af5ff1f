"""The patient's inbox: the in-app messages, unread count, marking read."""

from __future__ import annotations

from django.db.models import Count, Max, Q, Sum
from django.utils import translation
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.lib.conditional_get import client_has, make_etag, not_modified, revalidate_privately
from prepapp.lib.schema import error_response
from prepapp.permissions import IsPatient, patient_of

# ?unread=: what it takes; anything else is a 400 rather than a silently full list.
UNREAD_VALUES = ("1", "true", "yes", "0", "false", "no")
from prepapp.reminders import services
from prepapp.reminders.compose import task_path
from prepapp.reminders.models import InboxMessage


class InboxMessageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where the message leads in the app, e.g. /tasks/12/.")
    unread = serializers.SerializerMethodField()

    class Meta:
        model = InboxMessage
        fields = ["id", "title", "body", "task", "url", "created_at", "read_at", "unread"]

    def get_url(self, message) -> str | None:
        if message.task_id:
            return task_path(message.task_id)
        return "/" if message.reminder_id else None  # a daily digest opens the home screen

    def get_unread(self, message) -> bool:
        return message.read_at is None


def _unread(patient) -> int:
    return InboxMessage.objects.filter(patient=patient, read_at__isnull=True).count()


@extend_schema(tags=["inbox"])
class InboxView(generics.ListAPIView):
    """The signed-in patient's reminders, newest first. `?unread=1` lists only the unread ones."""

    serializer_class = InboxMessageSerializer
    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="me_inbox_list",
        parameters=[
            OpenApiParameter("unread", bool, required=False, description="1 (or true) for unread messages only.")
        ],
        responses={200: InboxMessageSerializer, 400: error_response("`unread` is not 1, true, 0 or false.")},
    )
    def get(self, request, *args, **kwargs):
        etag = self.etag(request)
        if client_has(request, etag):
            return not_modified(etag)
        return revalidate_privately(super().get(request, *args, **kwargs), etag)

    def etag(self, request) -> str:
        """The validator of this page of the inbox, from one aggregate over the patient's messages.

        Messages are only ever added (a higher id), marked read (read_at set) or lose their step
        (task set to null when a checklist is replaced); the stamps below change with each.
        """
        stamps = InboxMessage.objects.filter(patient=patient_of(request.user)).aggregate(
            count=Count("id"), last=Max("id"), unread=Count("id", filter=Q(read_at__isnull=True)),
            last_read=Max("read_at"), tasks=Sum("task_id"),
        )
        return make_etag(
            "inbox", sorted(self.get_serializer().fields), patient_of(request.user).pk, request.get_full_path(),
            request.accepted_renderer.format, translation.get_language(), sorted(stamps.items()),
        )

    def get_queryset(self):
        qs = InboxMessage.objects.filter(patient=patient_of(self.request.user))
        unread = self.request.query_params.get("unread")
        if unread is not None and unread not in UNREAD_VALUES:
            raise serializers.ValidationError({"unread": ["Use 1 (or true) for unread messages only, 0 (or false) for all."]})
        if unread in ("1", "true", "yes"):
            qs = qs.filter(read_at__isnull=True)
        return qs


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField(help_text="How many of the patient's messages are unread.")


class ReadAllSerializer(UnreadCountSerializer):
    marked = serializers.IntegerField(help_text="How many messages this request marked read.")


@extend_schema(tags=["inbox"])
class InboxUnreadCountView(APIView):
    """How many of the patient's messages are unread (the badge)."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_inbox_unread_count_retrieve", responses=UnreadCountSerializer)
    def get(self, request):
        return Response({"unread": _unread(patient_of(request.user))})


@extend_schema(tags=["inbox"])
class InboxReadView(APIView):
    """Mark one message read. Another patient's message does not exist here (404)."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_inbox_read", request=None, responses=InboxMessageSerializer)
    def post(self, request, pk: int):
        patient = patient_of(request.user)
        try:
            message = services.inbox_mark_read(patient=patient, message_id=pk)
        except InboxMessage.DoesNotExist as exc:
            raise NotFound("No such message.") from exc
        return Response(InboxMessageSerializer(message).data)


@extend_schema(tags=["inbox"])
class InboxReadAllView(APIView):
    """Mark every message read."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_inbox_read_all", request=None, responses=ReadAllSerializer)
    def post(self, request):
        patient = patient_of(request.user)
        marked = services.inbox_mark_all_read(patient=patient)
        return Response({"marked": marked, "unread": _unread(patient)})
