"""Telling a member of staff that their account is seeing repeated failed sign-ins.

Lockouts are per account and address together, so a stranger's wrong passwords no longer
lock the owner out; but the owner should still know someone is trying. Every failed password
sign-in of a staff account (from any address) is counted in the shared cache over one lockout
window; when the count reaches the lockout's failure limit the owner gets one email, and no
other until that window has passed, however many more tries follow.

Connected to Django's user_login_failed signal by prepapp.apps, and imported before the
models are loaded: so it looks the account up by name only when a failure happens.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from prepapp.lib.client_address import client_ip

logger = logging.getLogger(__name__)


def _window_seconds() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return math.ceil(cool_off.total_seconds()) if cool_off else 3600


def note_failed_sign_in(sender, credentials=None, request=None, **kwargs) -> None:
    """user_login_failed: count the failure against the account, and tell its owner once per window."""
    username = (credentials or {}).get("username")
    if not isinstance(username, str) or not username:
        return
    # Hashed: the key stays short and printable whatever was typed.
    ident = hashlib.sha256(username.encode()).hexdigest()
    window = _window_seconds()
    counter = f"sign-in-failures:{ident}"
    cache.add(counter, 0, timeout=window)
    try:
        failures = cache.incr(counter)
    except ValueError:  # the window ended between the two calls
        cache.add(counter, 1, timeout=window)
        failures = 1
    if failures < settings.AXES_FAILURE_LIMIT:
        return
    user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
    if user is None or not user.email or not (user.is_staff or user.is_superuser or user.memberships.exists()):
        return
    # add() is atomic: of all the processes seeing this failure, one alone sends the email.
    if not cache.add(f"sign-in-alert-sent:{ident}", 1, timeout=window):
        return
    address = client_ip(request) if request is not None else ""
    _send_in_background(_failures_message(user=user, failures=failures, address=address), user.pk)


def _failures_message(*, user, failures: int, address: str) -> EmailMessage:
    body = render_to_string(
        "prepapp/email/sign_in_failures.txt",
        {
            "user": user,
            "failures": failures,
            "address": address or "?",
            "minutes": max(1, _window_seconds() // 60),
            "at": timezone.now(),
            "site_url": settings.SITE_URL,
        },
    )
    return EmailMessage(
        subject=_("Failed sign-ins to your care-team account"),
        body=body,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )


def _send_in_background(message: EmailMessage, user_id: int) -> None:
    # From a thread of its own, as the sign-in links are: a slow mail server does not slow the
    # answer, nor tell the caller that the account exists.
    def send():
        try:
            message.send()
        except Exception as exc:  # an alert lost is logged, never the sign-in's failure
            logger.warning("The failed sign-in alert for user %s could not be sent (%s).", user_id,
                           exc.__class__.__name__)

    threading.Thread(target=send, name=f"sign-in-alert-{user_id}", daemon=True).start()
