"""Sign-in and sign-out: patients with a single-use invitation code or an emailed sign-in link, caregivers with theirs.

Also the staff's "issue a fresh code" for a patient, and "sign out everywhere" for anyone.
Staff API tokens: prepapp.api.tokens.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import login, logout
from django.core.exceptions import DisallowedHost, ValidationError
from django.middleware.csrf import get_token
from django.utils.http import is_same_domain
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp import caregivers, services
from prepapp.api.me import MeSerializer
from prepapp.authentication import SESSION_USER_BACKEND
from prepapp.lib.client_address import client_ip
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.lib.throttling import GuessCeilingThrottle, ScopedAddressThrottle
from prepapp.models import CaregiverLink, Patient
from prepapp.permissions import IsStaffMember
from prepapp.selectors import patients_for_staff

# Signing in puts a session on the phone, so it is done by the patient app itself.
# Restores the patient with their record in one query on each later request (and checks no password).
PATIENT_SIGN_IN_BACKEND = SESSION_USER_BACKEND


# --- Request and response shapes ---------------------------------------------------------


class InvitationSerializer(StrictInputMixin, serializers.Serializer):
    code = serializers.CharField(max_length=32, help_text="The invitation code; case, spaces and dashes do not matter.")


class SignInLinkRequestSerializer(StrictInputMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class SignInLinkRequestedSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="The address asked for; the answer is the same, known or not.")
    expires_in_minutes = serializers.IntegerField(help_text="How long a link sent to it works.")


class SignInLinkRedeemSerializer(StrictInputMixin, serializers.Serializer):
    token = serializers.CharField(max_length=200, help_text="The last part of the emailed link, /signin/<token>/.")


class SignedInCaregiverSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What the patient calls them, e.g. “Ana”.")
    following = serializers.IntegerField(help_text="The caregiver link just opened: /api/v1/following/<id>/.")


class SignedInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["patient", "caregiver"])
    patient = MeSerializer(required=False, help_text="For a patient: their profile.")
    caregiver = SignedInCaregiverSerializer(required=False, help_text="For a caregiver: who they are and whom they follow.")
    csrf_token = serializers.CharField(help_text="Send as X-CSRFToken with the session's later writes.")


class IssuedInvitationSerializer(serializers.Serializer):
    invitation_code = serializers.CharField(help_text="Shown in this response only; it signs in once.")
    join_url = serializers.URLField(help_text="The same code as a link that opens the patient app and signs in.")
    expires_at = serializers.DateTimeField()


FOREIGN_ORIGIN = error_response("Not sent from this site's own pages (Origin, or Referer, of another site or none).")


# --- Sign-in only from this site's pages -------------------------------------------------


def request_origin(request) -> str | None:
    """The origin a browser says the request comes from: Origin, else the Referer's scheme and host."""
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        return origin
    referer = urlsplit(request.META.get("HTTP_REFERER", ""))
    if referer.scheme and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}"
    return None


def origin_is_trusted(request) -> bool:
    """The same rule as Django's CSRF origin check: this host, or one of CSRF_TRUSTED_ORIGINS."""
    origin = request_origin(request)
    if not origin or origin == "null":
        return False
    try:
        own = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    except DisallowedHost:
        own = None
    if origin == own or origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    # "https://*.example.org" trusts every subdomain of example.org, as it does for Django.
    return any(
        parsed.scheme == trusted.scheme and is_same_domain(parsed.netloc, trusted.netloc.lstrip("*"))
        for trusted in (urlsplit(t) for t in settings.CSRF_TRUSTED_ORIGINS if "*" in t)
    )


class FromThisSite(BasePermission):
    """Sign-in requests must come from this site's own pages.

    These endpoints take no session, so Django's CSRF token cannot guard them; without this,
    a page elsewhere could post a code or link of its own and sign its visitor into an account
    it controls (login CSRF). Browsers always send Origin with a cross-site POST.
    """

    message = "Sign in from the app's own pages."

    def has_permission(self, request, view):
        return origin_is_trusted(request)


def signed_in_response(request, patient: Patient) -> Response:
    login(request._request, patient.user, backend=PATIENT_SIGN_IN_BACKEND)
    return Response(
        {"kind": "patient", "patient": MeSerializer(patient).data, "csrf_token": get_token(request._request)}
    )


def caregiver_signed_in_response(request, link: CaregiverLink) -> Response:
    # The caregiver's own account: the patient's session is never shared.
    login(request._request, link.caregiver, backend=PATIENT_SIGN_IN_BACKEND)
    return Response({
        "kind": "caregiver", "caregiver": {"name": link.name, "following": link.pk},
        "csrf_token": get_token(request._request),
    })


# --- Patients: sign in -------------------------------------------------------------------


class InvitationSignInView(APIView):
    """Sign a patient in with the code from their care team's invitation (starts a session).

    A code works once, within its lifetime; after that the patient asks for a new one, or for
    a sign-in link by email.
    """

    permission_classes = [FromThisSite]
    authentication_classes = []
    # Codes are short enough to read aloud, so guessing is slowed down per client address and
    # over every address together (a guesser tries many accounts' codes at once), in a way that
    # never refuses a valid code from an address that has not been guessing.
    throttle_classes = [ScopedAddressThrottle, GuessCeilingThrottle]
    throttle_scope = "invitation"

    @extend_schema(
        request=InvitationSerializer,
        responses={
            200: SignedInSerializer,
            400: error_response("The code is unknown, used, replaced or expired (one message for all, under code)."),
            403: FOREIGN_ORIGIN,
        },
        tags=["auth"],
        operation_id="auth_invitation_create",
    )
    def post(self, request):
        data = InvitationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            patient = services.patient_accept_invitation(code=data.validated_data["code"])
        except ValidationError:
            # Only a guess that got this far counts towards the ceiling over every address.
            GuessCeilingThrottle.record_wrong_guess(request)
            raise
        return signed_in_response(request, patient)


class SignInLinkRequestView(APIView):
    """Email a single-use sign-in link to a patient or a caregiver, for a new phone or computer.

    The answer is the same whether or not the address belongs to a patient, and whether or not
    the patient's links for the hour are used up (then nothing new is sent, and the newest link
    already sent keeps working: a stranger asking for links cannot keep the patient out).
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    # Per client address; per patient the service counts the links it sent.
    throttle_classes = [ScopedAddressThrottle]
    throttle_scope = "sign_in_link"

    @extend_schema(
        request=SignInLinkRequestSerializer,
        responses={202: SignInLinkRequestedSerializer},
        tags=["auth"],
        operation_id="auth_sign_in_link_create",
    )
    def post(self, request):
        data = SignInLinkRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.sign_in_link_send(email=data.validated_data["email"])
        # A caregiver's own account by the same address gets one too (one account may be both).
        caregivers.caregiver_sign_in_link_send(email=data.validated_data["email"])
        return Response(
            {"email": data.validated_data["email"], "expires_in_minutes": settings.SIGN_IN_LINK_TTL_MINUTES},
            status=status.HTTP_202_ACCEPTED,
        )


class SignInLinkRedeemView(APIView):
    """Exchange the token of an emailed sign-in link for a session, once: a patient's, or a caregiver's own."""

    permission_classes = [FromThisSite]
    authentication_classes = []
    # Per address like a code's attempts. The token is far too long to guess (256 random bits),
    # so no ceiling over every address is needed, and none can be filled to keep patients out.
    throttle_classes = [ScopedAddressThrottle]
    throttle_scope = "invitation"

    @extend_schema(
        request=SignInLinkRedeemSerializer,
        responses={
            200: SignedInSerializer,
            400: error_response("The link is unknown, used or expired (one message for all, under token)."),
            403: FOREIGN_ORIGIN,
        },
        tags=["auth"],
        operation_id="auth_sign_in_link_redeem_create",
    )
    def post(self, request):
        data = SignInLinkRedeemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = data.validated_data["token"]
        try:
            patient = services.sign_in_link_redeem(token=token)
        except ValidationError:
            # Not a patient's link: perhaps a caregiver's (the same one message if neither).
            link = caregivers.caregiver_sign_in_link_redeem(token=token)
            return caregiver_signed_in_response(request, link)
        return signed_in_response(request, patient)


# --- Everyone: sign out ------------------------------------------------------------------


class SignOutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None}, tags=["auth"], operation_id="auth_signout_create")
    def post(self, request):
        # Signing out with an API token revokes that token; with a session, ends the session.
        if isinstance(request.auth, Token):
            services.api_token_revoke(token=request.auth)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignOutEverywhereView(APIView):
    """End every session of the signed-in person, on every device, and revoke their API tokens."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"], operation_id="auth_signout_everywhere_create")
    def post(self, request):
        services.user_sign_out_everywhere(user=request.user)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Staff: a fresh invitation code ------------------------------------------------------


class PatientInvitationView(APIView):
    """Issue a fresh invitation code for one of the organization's patients.

    The code is in this response only; any earlier code the patient has not used stops working.
    """

    permission_classes = [IsStaffMember]

    @extend_schema(
        request=None,
        responses={201: IssuedInvitationSerializer},
        tags=["auth"],
        operation_id="patients_invitation_create",
    )
    def post(self, request, pk: int):
        patient = patients_for_staff(request.user).filter(pk=pk).first()
        if patient is None:
            raise NotFound("No such patient.")
        patient = services.patient_invitation_issue(
            patient=patient, issued_by=request.user, path=request.get_full_path(), ip=client_ip(request)
        )
        return Response(
            {
                "invitation_code": patient.invitation_code,
                # The code after "#", which browsers never send: no server or proxy log holds it.
                "join_url": request.build_absolute_uri("/join/") + f"#{patient.invitation_code}",
                "expires_at": patient.invitation_expires_at,
            },
            status=status.HTTP_201_CREATED,
        )
