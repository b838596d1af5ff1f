"""API tokens for staff: sign in with a password for a token that expires, sign out to revoke it."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from prepapp import services, two_factor
from prepapp.authentication import token_expires_at
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.schema import error_response
from prepapp.lib.throttling import ScopedAddressThrottle


class TokenRequestSerializer(StrictInputMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    otp_token = serializers.CharField(
        max_length=20, required=False, allow_blank=True,
        help_text="The second factor: the 6-digit code from the authenticator app, or a recovery code. Required "
        "for clinical leads and operators, and for coordinators whose organization asks for it.",
    )


TokenSerializer = inline_serializer(
    "Token",
    fields={
        "token": serializers.CharField(help_text="Send as `Authorization: Token <token>`."),
        "expires_at": serializers.DateTimeField(),
    },
)


class ObtainTokenView(APIView):
    """Exchange a staff member's username and password for an API token.

    Signing in again replaces the previous token. Failed attempts are counted per account and
    address together: past the limit that caller gets 429 with Retry-After until the lockout
    ends (the right password from another address still works). A member of staff who must
    have a second factor also sends `otp_token`; without it, or with a wrong one, the answer is
    400 naming `otp_token`.
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedAddressThrottle]
    throttle_scope = "token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: error_response("Wrong username or password (under detail), or the second factor missing or "
                                "wrong (under otp_token)."),
        },
        tags=["auth"], operation_id="auth_token_create",
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = {k: data.validated_data[k] for k in ("username", "password")}
        # The HttpRequest, so that the lockout (django-axes) sees the caller's address.
        user = authenticate(request._request, **credentials)
        if user is None or not user.is_active:
            raise ValidationError({"detail": ["Unable to sign in with these credentials."]})
        if two_factor.second_factor_asked(user):
            code = data.validated_data.get("otp_token", "")
            if not two_factor.has_second_factor(user):
                raise ValidationError({"otp_token": [str(two_factor.ENROL_FIRST)]})
            if not code.strip():
                raise ValidationError({"otp_token": [str(two_factor.CODE_REQUIRED)]})
            if two_factor.verify_code(user=user, token=code) is None:
                raise ValidationError({"otp_token": [str(two_factor.CODE_REFUSED)]})
        token = services.api_token_issue(user=user)
        return Response({"token": token.key, "expires_at": token_expires_at(token)})


class RevokeTokenView(APIView):
    """Revoke the token this request was made with (signing out of the API)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"], operation_id="auth_token_revoke")
    def post(self, request):
        if isinstance(request.auth, Token):
            services.api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
