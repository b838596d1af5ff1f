"""Limits on guessing: request throttles keyed on the real client address, and the sign-in lockout response.

Counters live in the shared cache (Redis in production), so a limit holds across every web
process and host; the address comes from prepapp.audit.client_ip, which believes only the
configured number of trusted proxies and never a header the client wrote. Password sign-in
(API token, coordinator pages, admin) is limited per account and per address by django-axes,
whose lockouts the admin lists; lockout_response is what a locked-out caller gets.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from prepapp.lib.client_address import client_ip


class ClientAddressMixin:
    def get_ident(self, request):
        return client_ip(request)


class ScopedAddressThrottle(ClientAddressMixin, ScopedRateThrottle):
    """A view's `throttle_scope` rate, per client address."""


class InvitationGuessThrottle(ClientAddressMixin, SimpleRateThrottle):
    """All invitation-code attempts together, whatever their address.

    A code names its own account, so "per account" means nothing to someone guessing codes;
    a ceiling over every address stops a guesser who spreads attempts over many addresses.
    """

    scope = "invitation_all"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": "everyone"}


class SignInLinkAccountThrottle(ClientAddressMixin, SimpleRateThrottle):
    """Sign-in link requests per email address, so one inbox cannot be flooded from many addresses."""

    scope = "sign_in_link_account"

    def get_cache_key(self, request, view):
        email = request.data.get("email") if hasattr(request, "data") and isinstance(request.data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None
        # Hashed: the key stays short and printable whatever was typed, and holds no address.
        ident = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """429 with Retry-After for a caller locked out of password sign-in (the AXES_LOCKOUT_CALLABLE)."""
    cool_off = settings.AXES_COOLOFF_TIME
    seconds = math.ceil(cool_off.total_seconds()) if cool_off else 3600
    minutes = max(1, math.ceil(seconds / 60))
    message = _("Too many failed sign-in attempts. Please try again in %(minutes)d minutes.") % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": [message]}, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
