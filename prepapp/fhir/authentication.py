"""How an integration client signs its requests: `Authorization: Bearer <key>` (the key its issuing gave)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from prepapp.fhir.models import IntegrationClient
from prepapp.fhir.services import integration_key_digest

# last_used_at is a hint for the admin, not a log: written at most this often per client.
LAST_USED_PRECISION = timedelta(minutes=1)


class IntegrationClientAuthentication(BaseAuthentication):
    """A request with a Bearer key is the client's; `request.auth` is the IntegrationClient."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the key as `Authorization: Bearer <key>`.")
        try:
            key = parts[1].decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed("The key is not valid.") from None
        client = (
            IntegrationClient.objects.select_related("user", "organization")
            .filter(key_digest=integration_key_digest(key)).first()
        )
        if client is None or not client.is_active or not client.user.is_active:
            raise AuthenticationFailed("The key is not valid, or it was revoked.")
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > LAST_USED_PRECISION:
            IntegrationClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return client.user, client

    def authenticate_header(self, request):
        return 'Bearer realm="fhir"'
