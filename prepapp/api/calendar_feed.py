"""The private calendar feed: the patient makes, changes and turns off its address; a phone's calendar fetches it.

The fetch is not session-authenticated: the secret in the address is the credential (as
with any calendar subscription), so a wrong, replaced or turned-off one gets 404, answers are
throttled per address, and nothing on the way may keep a copy.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp import calendar_feeds
from prepapp.api.my_checklist import ICalendarRenderer
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.qr import qr_svg_data_uri
from prepapp.lib.schema import error_response
from prepapp.lib.throttling import ScopedAddressThrottle
from prepapp.models import CalendarFeed
from prepapp.permissions import IsPatient, patient_of
from prepapp.workflows.calendar_feed import feed_body, feed_url, webcal_url

NO_FEED = "You have no calendar link. Make one first."
DETAIL_HELP = (
    "`titles`: events show the steps' titles, the surgery and the rules' last days; "
    "`private`: every event says only “Surgery preparation step”."
)


class CalendarFeedSerializer(serializers.Serializer):
    """The patient's calendar link: whether there is one and what it shows (the address itself only when made)."""

    active = serializers.BooleanField(help_text="Whether a link exists (its address is shown only when it is made).")
    detail = serializers.ChoiceField(choices=CalendarFeed.Detail.choices, help_text=DETAIL_HELP)
    created_at = serializers.DateTimeField(allow_null=True)
    last_fetched_at = serializers.DateTimeField(allow_null=True, help_text="When a calendar last fetched the feed.")


class NewCalendarFeedSerializer(CalendarFeedSerializer):
    """A link just made: its address, shown this once (only its hash is kept)."""

    url = serializers.URLField(help_text="The https address of the feed.")
    webcal_url = serializers.CharField(help_text="The same address with webcal://, which opens the phone's calendar.")
    qr_code = serializers.CharField(help_text="A QR code of the webcal address, as an SVG data: URI.")


class CalendarFeedInputSerializer(StrictInputMixin, serializers.Serializer):
    detail = serializers.ChoiceField(choices=CalendarFeed.Detail.choices, required=False, help_text=DETAIL_HELP)


class CalendarFeedChangeSerializer(StrictInputMixin, serializers.Serializer):
    detail = serializers.ChoiceField(choices=CalendarFeed.Detail.choices, help_text=DETAIL_HELP)


def _state(feed: CalendarFeed | None) -> dict:
    return {
        "active": feed is not None,
        "detail": feed.detail if feed else CalendarFeed.Detail.TITLES,
        "created_at": feed.created_at if feed else None,
        "last_fetched_at": feed.last_fetched_at if feed else None,
    }


@extend_schema(tags=["me"])
class MyCalendarFeedView(APIView):
    """The signed-in patient's calendar link: see it (GET), make a new one (POST), change what it shows
    (PATCH), turn it off (DELETE). A new link stops the old one at once."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_calendar_feed_retrieve", responses={200: CalendarFeedSerializer})
    def get(self, request):
        patient = patient_of(request.user)
        return Response(_state(calendar_feeds.calendar_feed_of(patient=patient, owner=request.user)))

    @extend_schema(operation_id="me_calendar_feed_create", request=CalendarFeedInputSerializer,
                   responses={201: NewCalendarFeedSerializer, 400: error_response("`detail` is not one of the choices.")})
    def post(self, request):
        patient = patient_of(request.user)
        data = CalendarFeedInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feed, token = calendar_feeds.calendar_feed_renew(
            patient=patient, owner=request.user, detail=data.validated_data.get("detail")
        )
        webcal = webcal_url(token)
        body = {**_state(feed), "url": feed_url(token), "webcal_url": webcal, "qr_code": qr_svg_data_uri(webcal)}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="me_calendar_feed_partial_update", request=CalendarFeedChangeSerializer,
                   responses={200: CalendarFeedSerializer, 400: error_response("`detail` is not one of the choices."),
                              404: error_response(NO_FEED)})
    def patch(self, request):
        patient = patient_of(request.user)
        data = CalendarFeedChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feed = calendar_feeds.calendar_feed_of(patient=patient, owner=request.user)
        if feed is None:
            raise NotFound(NO_FEED)
        try:
            feed = calendar_feeds.calendar_feed_set_detail(feed=feed, detail=data.validated_data["detail"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return Response(_state(feed))

    @extend_schema(operation_id="me_calendar_feed_destroy", request=None, responses={204: None})
    def delete(self, request):
        calendar_feeds.calendar_feed_revoke(patient=patient_of(request.user), owner=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


FEED_TOKEN = OpenApiParameter(
    "token", {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}, OpenApiParameter.PATH,
    description="The secret of the feed's address, as the patient got it when the link was made.",
)


@extend_schema(tags=["me"])
class CalendarFeedView(APIView):
    """A calendar feed, fetched by a phone's calendar: the secret in the address is the credential.

    404 for a wrong, replaced or turned-off address. Never stored by shared caches.
    """

    permission_classes = [AllowAny]
    # No session, no token: a calendar app has neither, and a signed-in browser's cookie must not count.
    authentication_classes = []
    throttle_classes = [ScopedAddressThrottle]
    throttle_scope = "calendar_feed"
    renderer_classes = [renderers.JSONRenderer, ICalendarRenderer]

    @extend_schema(
        operation_id="calendar_feed_retrieve", parameters=[FEED_TOKEN],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR,
                description="An iCalendar (RFC 5545) feed: the surgery, the arrival, each step as an all-day span "
                "over its window, and each rule's last day; stable UIDs, SEQUENCE rising with every change, "
                "STATUS:CANCELLED once the surgery is cancelled.",
            ),
            404: error_response("No calendar feed has this address."),
        },
    )
    def get(self, request, token: str):
        feed = calendar_feeds.calendar_feed_by_token(token)
        if feed is None:
            raise NotFound("No calendar feed has this address.")
        body = feed_body(feed)
        calendar_feeds.calendar_feed_note_fetch(feed=feed)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="surgery-preparation.ics"'
        # The address is a credential: no cache keeps the body (the API's no-store, prepapp.lib.security),
        # and no page the events link to learns the address.
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex"
        return response
