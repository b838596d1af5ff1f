"""Sign-in and sign-out: patients with their invitation code, staff with a password (API token)."""

from django.contrib.auth import login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import services
from .api import MeSerializer


class InvitationSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)


class InvitationSignInView(APIView):
    """Sign a patient in with the code from their care team's invitation (starts a session)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    # Codes are short enough to read aloud, so guessing is slowed down per client address.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "invitation"

    @extend_schema(request=InvitationSerializer, responses={200: dict})
    def post(self, request):
        data = InvitationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_accept_invitation(code=data.validated_data["code"])
        login(request._request, patient.user, backend="django.contrib.auth.backends.ModelBackend")
        return Response({"kind": "patient", "patient": MeSerializer(patient).data, "csrf_token": get_token(request._request)})


class SignOutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        logout(request._request)
        return Response(status=204)
