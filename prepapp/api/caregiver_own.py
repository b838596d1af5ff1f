"""The caregiver's own things: how they hear from us (settings), their phone's Web Push, their inbox.

These belong to the caregiver's account, not to a patient: the settings hold for every
patient they follow. The inbox lists only messages about patients they follow now (a
revoked link's messages are gone from it).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp import caregivers
from prepapp.api.push import PushSubscriptionSerializer, PushUnsubscribeSerializer
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import LocalTimeModelSerializer, error_response
from prepapp.models import CaregiverLink, CaregiverSettings
from prepapp.permissions import IsCaregiver
from prepapp.reminders import services
from prepapp.reminders.models import CaregiverPushSubscription, FamilyMessage

NO_MESSAGE = "No such message."
NO_SUBSCRIPTION = "No such subscription."


class CaregiverSettingsSerializer(StrictInputMixin, LocalTimeModelSerializer):
    """How the caregiver hears from us, for every patient they follow. Times are in the caregiver's own `time_zone`."""

    push_subscriptions = serializers.SerializerMethodField(help_text="How many of their browsers get Web Push.")
    push_public_key = serializers.SerializerMethodField(
        help_text="The VAPID key their browser subscribes with; empty when Web Push is not configured.")

    class Meta:
        model = CaregiverSettings
        fields = ["language", "time_zone", "reminder_time", "quiet_hours_start", "quiet_hours_end",
                  "email_enabled", "push_enabled", "inapp_enabled", "push_subscriptions", "push_public_key"]

    def get_push_subscriptions(self, own) -> int:
        return CaregiverPushSubscription.objects.filter(user_id=own.user_id).count()

    def get_push_public_key(self, own) -> str:
        return settings.VAPID_PUBLIC_KEY if settings.VAPID_PRIVATE_KEY else ""


class CaregiverPushSubscriptionSerializer(PushSubscriptionSerializer):
    class Meta(PushSubscriptionSerializer.Meta):
        model = CaregiverPushSubscription


class FamilyMessageSerializer(serializers.ModelSerializer):
    following = serializers.IntegerField(source="caregiver_id", help_text="The link of the patient it is about.")
    patient_name = serializers.CharField(source="caregiver.patient.full_name")
    unread = serializers.SerializerMethodField()

    class Meta:
        model = FamilyMessage
        fields = ["id", "following", "patient_name", "title", "body", "created_at", "read_at", "unread"]

    def get_unread(self, message) -> bool:
        return message.read_at is None


def own_settings(user) -> CaregiverSettings:
    found = CaregiverSettings.objects.filter(user=user).first()
    return found or caregivers.caregiver_settings_update(user=user)


@extend_schema(tags=["following"])
class CaregiverSettingsView(APIView):
    """The caregiver's own channels, quiet hours, reminder time, language and time zone (GET, PATCH)."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_settings_retrieve", responses={200: CaregiverSettingsSerializer})
    def get(self, request):
        return Response(CaregiverSettingsSerializer(own_settings(request.user)).data)

    @extend_schema(operation_id="following_settings_partial_update", request=CaregiverSettingsSerializer,
                   responses={200: CaregiverSettingsSerializer, 400: error_response("A field is wrong (named).")})
    def patch(self, request):
        data = CaregiverSettingsSerializer(own_settings(request.user), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in caregivers.OWN_SETTINGS}
        return Response(CaregiverSettingsSerializer(
            caregivers.caregiver_settings_update(user=request.user, **changes)
        ).data)


@extend_schema(tags=["following"])
class CaregiverPushView(APIView):
    """Subscribe the caregiver's own browser to Web Push (POST; 201 new, 200 known), or forget it (DELETE)."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_push_create", request=CaregiverPushSubscriptionSerializer,
                   responses={201: CaregiverPushSubscriptionSerializer, 200: CaregiverPushSubscriptionSerializer,
                              400: error_response("A field is wrong (named).")})
    def post(self, request):
        serializer = CaregiverPushSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription, created = services.caregiver_push_subscribe(
            user=request.user, endpoint=data["endpoint"], p256dh=data["keys"]["p256dh"], auth=data["keys"]["auth"],
            user_agent=data.get("user_agent") or request.headers.get("User-Agent", ""),
        )
        if subscription is None:  # someone else's endpoint: the same answer as a new one, nothing changed
            subscription = CaregiverPushSubscription(
                endpoint=data["endpoint"], user_agent=(data.get("user_agent") or "")[:300], created_at=timezone.now()
            )
        return Response(CaregiverPushSubscriptionSerializer(subscription).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(operation_id="following_push_destroy", request=PushUnsubscribeSerializer,
                   responses={204: None, 404: error_response(NO_SUBSCRIPTION)})
    def delete(self, request):
        data = PushUnsubscribeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not services.caregiver_push_unsubscribe(user=request.user, endpoint=data.validated_data["endpoint"]):
            raise NotFound(NO_SUBSCRIPTION)
        return Response(status=204)


def family_messages_of(user):
    """The caregiver's messages about the patients they follow now, newest first."""
    live = CaregiverLink.objects.filter(caregiver=user, revoked_at__isnull=True)
    return FamilyMessage.objects.filter(caregiver__in=live).select_related("caregiver__patient")


@extend_schema(tags=["following"])
class FamilyInboxView(APIView):
    """The caregiver's inbox: the messages about the patients they follow, newest first (at most 100)."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_inbox_list", responses={200: FamilyMessageSerializer(many=True)})
    def get(self, request):
        return Response(FamilyMessageSerializer(family_messages_of(request.user)[:100], many=True).data)


@extend_schema(tags=["following"])
class FamilyMessageReadView(APIView):
    """Mark one of the caregiver's messages read."""

    permission_classes = [IsCaregiver]

    @extend_schema(operation_id="following_inbox_read", request=None,
                   responses={200: FamilyMessageSerializer, 404: error_response(NO_MESSAGE)})
    def post(self, request, pk: int):
        try:
            message = services.family_message_mark_read(caregiver=request.user, message_id=pk)
        except FamilyMessage.DoesNotExist as exc:
            raise NotFound(NO_MESSAGE) from exc
        return Response(FamilyMessageSerializer(message).data)
