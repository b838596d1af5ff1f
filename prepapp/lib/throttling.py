"""Limits on guessing: request throttles keyed on the real client address, and the sign-in lockout response.

Counters live in the shared cache (Redis in production), so a limit holds across every web
process and host; the address comes from prepapp.audit.client_ip, which believes only the
configured number of trusted proxies and never a header the client wrote. Password sign-in
(API token, coordinator pages, admin) is limited per account and address together by
django-axes, whose lockouts the admin lists; lockout_response is what a locked-out caller gets.
Guessing invitation codes meets a ceiling over every address that no few addresses can fill
for everyone (GuessCeilingThrottle).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle

from prepapp.lib.client_address import client_ip


class ClientAddressMixin:
    def get_ident(self, request):
        return client_ip(request)


class ScopedAddressThrottle(ClientAddressMixin, ScopedRateThrottle):
    """A view's `throttle_scope` rate, per client address."""


class GuessCeilingThrottle(ClientAddressMixin, BaseThrottle):
    """A ceiling on wrong guesses from every address together that no handful of addresses can fill for all.

    Guessing codes is spread over many addresses, so the per-address limit alone does not stop
    it; but refusing everyone once the wrong guesses of all addresses pass a ceiling would let
    a few addresses lock every patient out. So the ceiling counts only wrong guesses the
    per-address limit let through (the view calls `record_wrong_guess` after checking one),
    and passing it does not refuse everyone: it puts the service on guard for the rest of the
    hour, when an address that has itself guessed wrong `guarded_scope`'s number of times waits
    until the hour ends before its next guess is checked. Any other address still has its
    code checked: the patient with a valid code signs in, whatever the attacker does elsewhere,
    and each attacking address gets only a few guesses an hour.

    Counted per clock window of each rate (an hour by default) in the shared cache.
    """

    ceiling_scope = "invitation_all"
    guarded_scope = "invitation_guarded"

    def __init__(self):
        self.wait_seconds = None

    @staticmethod
    def rate(scope: str) -> tuple[int, int]:
        # parse_rate reads nothing of its instance; DRF's own "20/min" format, read at each call.
        return SimpleRateThrottle.parse_rate(None, api_settings.DEFAULT_THROTTLE_RATES[scope])

    @classmethod
    def _key(cls, scope: str, ident: str, now: float) -> tuple[str, int, float]:
        limit, window = cls.rate(scope)
        start = now - now % window
        return f"guesses:{scope}:{ident}:{int(start)}", limit, start + window

    @classmethod
    def _count(cls, scope: str, ident: str, now: float) -> tuple[int, int, float]:
        key, limit, ends = cls._key(scope, ident, now)
        return cache.get(key, 0), limit, ends

    def allow_request(self, request, view):
        now = time.time()
        wrong, ceiling, _ = self._count(self.ceiling_scope, "everyone", now)
        if wrong < ceiling:
            return True
        mine, allowance, ends = self._count(self.guarded_scope, self.get_ident(request), now)
        if mine < allowance:
            return True
        self.wait_seconds = max(1, math.ceil(ends - now))
        return False

    def wait(self):
        return self.wait_seconds

    @classmethod
    def record_wrong_guess(cls, request) -> None:
        """Count a wrong guess that the per-address limit let through, for everyone and for its address."""
        now = time.time()
        for scope, ident in ((cls.ceiling_scope, "everyone"), (cls.guarded_scope, client_ip(request))):
            key, _, ends = cls._key(scope, ident, now)
            # add() then incr(): atomic in Redis, so every process counts in the one counter.
            cache.add(key, 0, timeout=math.ceil(ends - now) + 60)
            try:
                cache.incr(key)
            except ValueError:  # expired between the two calls: this guess starts the next window
                cache.add(key, 1, timeout=math.ceil(ends - now) + 60)


def address_throttle_wait(request, scope: str) -> float | None:
    """For views outside DRF (the sign-in pages): None if the address may go on, else the seconds to wait."""
    throttle = ScopedAddressThrottle()
    view = type("ThrottledPage", (), {"throttle_scope": scope})()
    if throttle.allow_request(request, view):
        return None
    return throttle.wait() or 1


def too_many_requests(request, seconds: float) -> HttpResponse:
    """429 with Retry-After for a page (the API's throttles answer the same in JSON)."""
    seconds = max(1, math.ceil(seconds))
    message = _("Too many attempts from this address. Please try again in %(seconds)d seconds.") % {"seconds": seconds}
    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response


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
