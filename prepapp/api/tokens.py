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

from prepapp import services
from prepapp.authentication import token_expires_at
from prepapp.lib.errors import StrictInputMixin
from prepapp.lib.throttling import ScopedAddressThrottle


class TokenRequestSerializer(StrictInputMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})


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
    per address: past the limit the caller gets 429 with Retry-After until the lockout ends.
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedAddressThrottle]
    throttle_scope = "token"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer}, tags=["auth"],
                   operation_id="auth_token_create")
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The HttpRequest, so that the lockout (django-axes) sees the caller's address.
        user = authenticate(request._request, **data.validated_data)
        if user is None or not user.is_active:
            raise ValidationError({"detail": ["Unable to sign in with these credentials."]})
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
