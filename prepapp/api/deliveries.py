"""What was sent and what happened: the staff delivery log of a patient, the patient's own, and read receipts."""

from __future__ import annotations

from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.audit import audit_record
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.lib.throttling import ScopedAddressThrottle
from prepapp.models import Patient
from prepapp.permissions import IsPatient, IsStaffMember, patient_of
from prepapp.reminders import receipts
from prepapp.reminders.models import Announcement, DeliveryAttempt, Reminder
from prepapp.selectors import patients_for_staff


class DeliveredReminderSerializer(serializers.ModelSerializer):
    """The reminder an attempt delivered (or tried to)."""

    task_title = serializers.SerializerMethodField(
        help_text="The step's title, what a daily digest is, or for an announcement what it announced."
    )
    kind = serializers.SerializerMethodField(
        help_text="`digest` (one message listing the day's steps), `step` or `announcement` (surgery booked, moved, cancelled)."
    )

    class Meta:
        model = Reminder
        fields = [
            "id", "kind", "task", "task_title", "rule", "anchor_date", "send_at", "status", "attempts", "last_error",
            "fallback", "read_at",
        ]
        extra_kwargs = {
            "fallback": {"help_text": "An email sent because the push message did not reach the patient."},
            "read_at": {"help_text": "When the patient opened it (notification, email link or inbox): the receipt."},
        }

    def get_task_title(self, reminder) -> str:
        if reminder.announcement_id is not None:
            return str(Announcement.Event(reminder.announcement.event).label)
        if reminder.task_id is None:
            return f"Daily summary for {reminder.anchor_date:%Y-%m-%d}"
        return reminder.task.definition.title

    def get_kind(self, reminder) -> str:
        if reminder.announcement_id is not None:
            return "announcement"
        return "digest" if reminder.task_id is None else "step"


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    reminder = DeliveredReminderSerializer(read_only=True)

    class Meta:
        model = DeliveryAttempt
        fields = ["id", "at", "channel", "outcome", "detail", "possible_duplicate", "reminder"]
        extra_kwargs = {
            "possible_duplicate": {
                "help_text": "Sent after an earlier attempt was lost with its worker: "
                "the patient may have received this reminder twice."
            }
        }


class DeliveryLogPatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "full_name"]


class ReminderCountsSerializer(serializers.Serializer):
    """How many of the patient's reminders are in each status (one field per Reminder.Status)."""

    pending = serializers.IntegerField()
    sending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    skipped = serializers.IntegerField()


@extend_schema_serializer(many=False)
class DeliveryLogSerializer(serializers.Serializer):
    """One page of the delivery log, with the patient it is about and their reminders counted by status."""

    patient = DeliveryLogPatientSerializer()
    reminders = ReminderCountsSerializer()
    count = serializers.IntegerField(help_text="Delivery attempts in all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DeliveryAttemptSerializer(many=True)


@extend_schema(tags=["deliveries"])
class PatientDeliveriesView(generics.ListAPIView):
    """One patient's delivery log, newest first, with the reminders counted by status.

    Filters: `?outcome=failed`, `?channel=push`. A patient of another organization does not
    exist here (404). Reading it leaves an audit entry.
    """

    serializer_class = DeliveryAttemptSerializer
    permission_classes = [IsStaffMember]

    def get_patient(self) -> Patient:
        return get_object_or_404(
            patients_for_staff(self.request.user), pk=self.kwargs["pk"]
        )

    def get_queryset(self):
        qs = DeliveryAttempt.objects.filter(patient=self.patient).select_related("reminder__task__definition", "reminder__announcement")
        for name, known in (("outcome", DeliveryAttempt.Outcome.values), ("channel", Reminder.Channel.values)):
            value = self.request.query_params.get(name)
            if value is None:
                continue
            # An unknown value would match nothing: an empty log that looks like good news.
            if value not in known:
                raise serializers.ValidationError({name: [f"Unknown {name} “{value}”. Use one of: {', '.join(known)}."]})
            qs = qs.filter(**{name: value})
        return qs

    @extend_schema(
        operation_id="patients_deliveries_list",
        parameters=[
            OpenApiParameter(
                "outcome", str, enum=DeliveryAttempt.Outcome.values, description="Only attempts with this outcome."
            ),
            OpenApiParameter(
                "channel", str, enum=Reminder.Channel.values, description="Only attempts on this channel."
            ),
        ],
        responses={200: DeliveryLogSerializer, 400: error_response("An outcome or channel that does not exist (named).")},
    )
    def get(self, request, *args, **kwargs):
        self.patient = self.get_patient()
        audit_record(actor=request.user, patients=[self.patient.pk], action="read-deliveries", request=request,
                              path=request.get_full_path())
        response = self.list(request, *args, **kwargs)
        counts = dict(
            Reminder.objects.filter(patient=self.patient).values_list("status").annotate(n=Count("id")).order_by()
        )
        response.data = {
            "patient": DeliveryLogPatientSerializer(self.patient).data,
            "reminders": {s: counts.get(s, 0) for s in Reminder.Status.values},
            **response.data,
        }
        return response


# --- Read receipts ---------------------------------------------------------------------


class ReceiptSerializer(StrictInputMixin, serializers.Serializer):
    token = serializers.CharField(max_length=500, help_text="The `receipt` token the message carried.")


class ReceiptResultSerializer(serializers.Serializer):
    reminder = serializers.IntegerField()
    read_at = serializers.DateTimeField()
    first_time = serializers.BooleanField(help_text="False when the message had been marked read before.")


@extend_schema(tags=["inbox"])
class ReceiptView(APIView):
    """A notification was opened: the service worker posts the message's receipt token.

    The signed token is the credential, so no session is needed (the service worker sends
    none). A signed-in patient may only confirm their own messages: another patient's token
    is a 404. A tampered or expired token is a 400 naming `token`.
    """

    permission_classes = [AllowAny]
    throttle_classes = [ScopedAddressThrottle]
    throttle_scope = "receipt"

    @extend_schema(
        operation_id="receipts_create",
        request=ReceiptSerializer,
        responses={
            200: ReceiptResultSerializer,
            404: error_response("The token is another patient's, or its message is gone."),
        },
    )
    def post(self, request):
        data = ReceiptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signed_in = patient_of(request.user) if request.user.is_authenticated else None
        if request.user.is_authenticated and signed_in is None:
            raise NotFound("No such message.")  # staff do not open patients' messages
        try:
            opened = receipts.reminder_mark_opened(
                token=data.validated_data["token"], patient_id=signed_in.pk if signed_in else None
            )
        except receipts.ReceiptError as exc:
            raise serializers.ValidationError({"token": [str(exc)]}) from exc
        except Reminder.DoesNotExist as exc:
            raise NotFound("No such message.") from exc
        return Response(
            ReceiptResultSerializer(
                {"reminder": opened.reminder.id, "read_at": opened.reminder.read_at, "first_time": opened.first_time}
            ).data
        )


# --- Patients: what was sent to me ----------------------------------------------------


@extend_schema_serializer(many=False)
class MyDeliveriesSerializer(serializers.Serializer):
    """One page of the signed-in patient's own delivery log."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DeliveryAttemptSerializer(many=True)


@extend_schema(tags=["inbox"])
class MyDeliveriesView(generics.ListAPIView):
    """What was sent to the signed-in patient, on which channel, and what happened (newest first)."""

    serializer_class = DeliveryAttemptSerializer
    permission_classes = [IsPatient]

    def get_queryset(self):
        return DeliveryAttempt.objects.filter(patient=patient_of(self.request.user)).select_related(
            "reminder__task__definition"
        )

    @extend_schema(operation_id="me_deliveries_list", responses=MyDeliveriesSerializer)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
