"""REST endpoints of the reminder side: the patient's inbox and push subscriptions, the staff delivery log."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.api_errors import StrictInputMixin
from prepapp.api_schema import error_response
from prepapp.audit import audit_record
from prepapp.conditional import client_has, make_etag, not_modified, revalidate_privately
from prepapp.models import Patient
from prepapp.permissions import IsPatient, IsStaffMember, patient_of, staff_organization_ids
from prepapp.throttling import ScopedAddressThrottle

from . import escalation, receipts, services
from .channels.webpush import push_endpoint_error
from .compose import task_path
from .models import Alert, Announcement, DeliveryAttempt, InboxMessage, PushSubscription, Reminder

# --- Patients: inbox -----------------------------------------------------------------------


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
        if self.request.query_params.get("unread") in ("1", "true", "yes"):
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


# --- Patients: Web Push subscriptions ---------------------------------------------------


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class PushKeysSerializer(StrictInputMixin, serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)

    def validate_p256dh(self, value):
        try:
            raw = _b64url(value)
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("Must be the browser's P-256 public key, base64url-encoded.") from exc
        return value

    def validate_auth(self, value):
        try:
            raw = _b64url(value)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("Must be base64url-encoded.") from exc
        if len(raw) != 16:
            raise serializers.ValidationError("Must be the browser's 16-byte auth secret.")
        return value


class PushSubscriptionSerializer(StrictInputMixin, serializers.ModelSerializer):
    """The shape of the browser's `PushSubscription.toJSON()`, plus an optional user agent."""

    id = serializers.IntegerField(
        read_only=True, allow_null=True,
        help_text="Null when the endpoint could not be recorded for this patient (the answer is otherwise the same).",
    )
    keys = PushKeysSerializer(write_only=True)
    expirationTime = serializers.IntegerField(required=False, allow_null=True, write_only=True)  # noqa: N815

    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "keys", "expirationTime", "user_agent", "created_at", "last_success_at"]
        read_only_fields = ["id", "created_at", "last_success_at"]
        # Uniqueness is the service's business: subscribing an endpoint again updates it.
        extra_kwargs = {"endpoint": {"validators": []}, "user_agent": {"required": False}}

    def validate_endpoint(self, value):
        problem = push_endpoint_error(value)
        if problem:
            raise serializers.ValidationError(f"This endpoint cannot be used: {problem}.")
        return value


class PushUnsubscribeSerializer(StrictInputMixin, serializers.Serializer):
    endpoint = serializers.CharField(help_text="The endpoint of the subscription to forget.")


@extend_schema(tags=["push"])
@extend_schema_view(
    post=extend_schema(
        operation_id="me_push_subscriptions_create",
        responses={201: PushSubscriptionSerializer, 200: PushSubscriptionSerializer},
        description="Subscribe this browser: 201 with a new subscription, 200 when the endpoint was known (updated).",
    )
)
class PushSubscriptionListView(generics.ListCreateAPIView):
    """The patient's push subscriptions. POST is idempotent on the endpoint (201 new, 200 updated).

    DELETE on this collection with `{"endpoint": ...}` forgets the subscription with that endpoint.
    """

    serializer_class = PushSubscriptionSerializer
    permission_classes = [IsPatient]
    pagination_class = None

    def get_queryset(self):
        return PushSubscription.objects.filter(patient=patient_of(self.request.user)).order_by("id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription, created = services.push_subscribe(
            patient=patient_of(request.user),
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
            user_agent=data.get("user_agent") or request.headers.get("User-Agent", ""),
        )
        if subscription is None:
            # The endpoint is another patient's: nothing changes, and the answer looks like a
            # new subscription's, so it tells the caller nothing about whose endpoint it is.
            subscription = PushSubscription(
                endpoint=data["endpoint"], user_agent=(data.get("user_agent") or "")[:300], created_at=timezone.now()
            )
        return Response(
            self.get_serializer(subscription).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        operation_id="me_push_subscriptions_destroy_by_endpoint",
        request=PushUnsubscribeSerializer,
        responses={204: None, 404: error_response("The patient has no subscription with this endpoint.")},
        description="Forget the subscription with the endpoint given in the body.",
    )
    def delete(self, request):
        data = PushUnsubscribeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not services.push_unsubscribe(patient=patient_of(request.user), endpoint=data.validated_data["endpoint"]):
            raise NotFound("No such subscription.")
        return Response(status=204)


@extend_schema(tags=["push"])
class PushSubscriptionDetailView(generics.RetrieveDestroyAPIView):
    """One of the patient's push subscriptions; another patient's does not exist here (404)."""

    serializer_class = PushSubscriptionSerializer
    permission_classes = [IsPatient]

    def get_queryset(self):
        return PushSubscription.objects.filter(patient=patient_of(self.request.user))

    def perform_destroy(self, instance):
        services.push_unsubscribe(patient=patient_of(self.request.user), subscription_id=instance.id)


class PushPublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(help_text="The VAPID public key, base64url: the applicationServerKey.")


@extend_schema(tags=["push"])
class PushPublicKeyView(APIView):
    """The VAPID public key the browser subscribes with; 404 when Web Push is not configured."""

    @extend_schema(
        operation_id="me_push_public_key_retrieve",
        responses={200: PushPublicKeySerializer, 404: error_response("Web Push is not configured.")},
    )
    def get(self, request):
        if not (settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY):
            raise NotFound("Web Push is not configured.")
        return Response(PushPublicKeySerializer({"public_key": settings.VAPID_PUBLIC_KEY}).data)


# --- Staff: delivery log ------------------------------------------------------------------


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
            Patient.objects.filter(organization_id__in=staff_organization_ids(self.request.user)), pk=self.kwargs["pk"]
        )

    def get_queryset(self):
        qs = DeliveryAttempt.objects.filter(patient=self.patient).select_related("reminder__task__definition", "reminder__announcement")
        for name in ("outcome", "channel"):
            value = self.request.query_params.get(name)
            if value:
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
        responses=DeliveryLogSerializer,
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


# --- Staff: alerts about missed critical steps ------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    patient_name = serializers.CharField(source="patient.full_name")
    task_title = serializers.CharField(source="task.definition.title")
    acknowledged_by = serializers.SerializerMethodField()
    open = serializers.BooleanField(source="is_open")

    class Meta:
        model = Alert
        fields = [
            "id", "patient", "patient_name", "task", "task_title", "due_date", "days_overdue", "raised_at", "open",
            "acknowledged_at", "acknowledged_by", "note",
        ]

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
