"""Verbs of the FHIR connection itself: integration clients' keys, and the FHIR sources pull mode polls.

Each in one transaction.
"""

from __future__ import annotations

import hashlib
import secrets

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from prepapp.fhir.models import FhirSource, IntegrationClient
from prepapp.lib.sealed import seal
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
    user = _service_login("integration", name)
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


def _service_login(prefix: str, name: str):
    """A login no one can sign in with (no password, no staff membership): the audit trail's name for a connection."""
    user = User(username=f"{prefix}-{secrets.token_hex(6)}", first_name=name[:150])
    user.set_unusable_password()
    user.save()
    return user


def check_source_address(base_url: str) -> str:
    """The base address as kept (no trailing slash); https unless FHIR_PULL_ALLOW_HTTP (the token travels with it)."""
    parts = urlsplit(base_url.strip())
    allowed = {"https", "http"} if settings.FHIR_PULL_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed or not parts.hostname:
        raise ValidationError({"base_url": _("The address must start with https:// and name the server.")})
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError({"base_url": _("Give the FHIR base address only: no query, no user name or password "
                                             "(the token goes in its own field).")})
    return base_url.strip().rstrip("/")


@transaction.atomic
def fhir_source_add(*, organization: Organization, name: str, base_url: str, token: str = "",
                    enabled: bool = True) -> FhirSource:
    """A hospital FHIR server to poll for this organization's schedule; the token is kept sealed."""
    base_url = check_source_address(base_url)
    if FhirSource.objects.filter(organization=organization, base_url=base_url).exists():
        raise ValidationError({"base_url": _("This organization already polls this server.")})
    return FhirSource.objects.create(
        organization=organization, name=name, base_url=base_url, sealed_token=seal(token), enabled=enabled,
        user=_service_login("fhir-source", name),
    )


@transaction.atomic
def fhir_source_update(*, source: FhirSource, name: str, base_url: str, enabled: bool,
                       token: str | None = None) -> FhirSource:
    """Change a source; `token` None keeps the one kept, "" removes it. Another server starts from no watermark."""
    source = FhirSource.objects.select_for_update().get(pk=source.pk)
    base_url = check_source_address(base_url)
    if FhirSource.objects.filter(organization_id=source.organization_id, base_url=base_url) \
            .exclude(pk=source.pk).exists():
        raise ValidationError({"base_url": _("This organization already polls this server.")})
    fields = ["name", "base_url", "enabled"]
    if base_url != source.base_url:
        # Another server's times say nothing about this one's: its first poll reads the whole schedule.
        source.watermark = None
        fields.append("watermark")
    if token is not None:
        source.sealed_token = seal(token)
        fields.append("sealed_token")
    source.name, source.base_url, source.enabled = name, base_url, enabled
    source.save(update_fields=fields)
    if source.user.first_name != name[:150]:
        source.user.first_name = name[:150]
        source.user.save(update_fields=["first_name"])
    return source
