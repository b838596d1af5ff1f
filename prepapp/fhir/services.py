"""Verbs of the FHIR connection itself: issuing and revoking integration clients' keys. Each in one transaction."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from prepapp.fhir.models import IntegrationClient
from prepapp.models import Organization

User = get_user_model()


def integration_key_digest(key: str) -> str:
    # The key is 256 random bits: a plain hash is as good as a keyed one (as for sign-in links).
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def integration_client_issue(*, organization: Organization, name: str) -> IntegrationClient:
    """A new integration client for one organization; the returned instance carries its key, shown once.

    Its login has no password and no staff membership: nothing but the key opens it, and the
    key opens only the FHIR endpoints (prepapp.fhir.authentication).
    """
    user = User(username=f"integration-{secrets.token_hex(6)}", first_name=name[:150])
    user.set_unusable_password()
    user.save()
    key = secrets.token_urlsafe(32)
    client = IntegrationClient.objects.create(
        organization=organization, name=name, user=user, key_digest=integration_key_digest(key), key_prefix=key[:8],
    )
    client.key = key
    return client


@transaction.atomic
def integration_client_rotate(*, client: IntegrationClient) -> IntegrationClient:
    """A fresh key for the client; the previous one stops working at once."""
    client = IntegrationClient.objects.select_for_update().get(pk=client.pk)
    key = secrets.token_urlsafe(32)
    client.key_digest, client.key_prefix, client.revoked_at = integration_key_digest(key), key[:8], None
    client.save(update_fields=["key_digest", "key_prefix", "revoked_at"])
    client.key = key
    return client


@transaction.atomic
def integration_client_revoke(*, client: IntegrationClient) -> None:
    """The client's key stops working; its imports and audit entries stay."""
    IntegrationClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
