"""The patient's Web Push subscriptions and the server's public (VAPID) key."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.permissions import IsPatient, patient_of
from prepapp.reminders import services
from prepapp.reminders.channels.webpush import push_endpoint_error
from prepapp.reminders.models import PushSubscription


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
