"""Staff sign-in on the coordinator pages: the password, then the second factor (or setting one up).

The password step does not sign anyone in when a second factor is asked for: it notes in the
still-anonymous session whose password was right, for a few minutes, and the next step asks
for the code. Only a right code signs in (Django's login, with django-otp marking the session
verified), so a session of a member of staff who must have a second factor exists only once
it has been given. Setting one up (the first sign-in of a lead, or after a reset) shows a QR
code and the key as text, confirms with a code from the app, and shows the recovery codes once.
"""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepapp import two_factor
from prepapp.lib.throttling import address_throttle_wait, too_many_requests
from prepapp.models import StaffMembership

# What the session holds between the password and the code: whose password was right, when.
PENDING_KEY = "prepapp_second_factor_pending"


class StaffAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, refusing accounts that belong to no care team (even admin staff)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_staff": gettext_lazy("This sign-in is for care-team members. Your account is not part of a care team."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not StaffMembership.objects.filter(user=user).exists():
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class CoordinatorLoginView(LoginView):
    template_name = "frontend/coordinator/login.html"
    authentication_form = StaffAuthenticationForm
    next_page = "coordinator:roster"

    def post(self, request, *args, **kwargs):
        # One address trying many accounts' passwords meets this; each account and address
        # pair also has its own lockout (django-axes).
        wait = address_throttle_wait(request, "token")
        if wait is not None:
            return too_many_requests(request, wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.second_factor_asked(user):
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING_KEY] = {
            "user": user.pk, "backend": user.backend, "at": int(time.time()), "next": self.get_success_url(),
        }
        step = "coordinator:verify" if two_factor.has_second_factor(user) else "coordinator:setup"
        return redirect(step)


def _pending(request):
    """The member of staff whose password was just right, if within SECOND_FACTOR_PENDING_MINUTES."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None, None
    if time.time() - pending.get("at", 0) > settings.SECOND_FACTOR_PENDING_MINUTES * 60:
        del request.session[PENDING_KEY]
        return None, None
    user = get_user_model()._default_manager.filter(pk=pending.get("user"), is_active=True).first()
    return user, pending


def _sign_in(request, user, device, pending) -> None:
    del request.session[PENDING_KEY]
    # django-otp notes the device in the session when the user signs in carrying it.
    user.otp_device = device
    login(request, user, backend=pending["backend"])


@never_cache
@sensitive_post_parameters("otp_token")
def verify_page(request):
    """The second step of signing in: the code from the authenticator app, or a recovery code."""
    user, pending = _pending(request)
    if user is None:
        return redirect("coordinator:login")
    if not two_factor.has_second_factor(user):
        return redirect("coordinator:setup")
    error = None
    if request.method == "POST":
        code = request.POST.get("otp_token", "")
        device = two_factor.verify_code(user=user, token=code)
        if device is not None:
            _sign_in(request, user, device, pending)
            return redirect(pending["next"])
        error = two_factor.CODE_REFUSED if code.strip() else two_factor.CODE_REQUIRED
    return render(request, "frontend/coordinator/verify.html", {"error": error}, status=400 if error else 200)


@never_cache
@sensitive_post_parameters("otp_token")
def setup_page(request):
    """Setting up the second factor: scan the QR code (or type the key), confirm with a code, keep the recovery codes.

    Everything happens before the session signs in: the password was right a moment ago.
    """
    user, pending = _pending(request)
    if user is None:
        return redirect("coordinator:login")
    if two_factor.has_second_factor(user):
        return redirect("coordinator:verify")
    device = TOTPDevice.objects.filter(pk=pending.get("device"), user=user, confirmed=False).first()
    if device is None:
        # The same key across reloads of the page, so a code from the app already scanned still works.
        device = two_factor.second_factor_enrolment_begin(user=user)
        pending["device"] = device.pk
        request.session[PENDING_KEY] = pending
    error = None
    if request.method == "POST":
        try:
            device, codes = two_factor.second_factor_enrolment_confirm(
                user=user, device_id=device.pk, token=request.POST.get("otp_token", "")
            )
        except ValidationError as exc:
            error = exc.message_dict["otp_token"][0]
        else:
            _sign_in(request, user, device, pending)
            context = {"codes": codes, "next": pending["next"]}
            return render(request, "frontend/coordinator/recovery_codes.html", context)
    context = {
        "qr_src": two_factor.enrolment_qr_data_uri(device),
        "secret": two_factor.enrolment_secret(device),
        "account": user.get_username(),
        "error": error,
        "required": two_factor.second_factor_required(user),
    }
    return render(request, "frontend/coordinator/setup.html", context, status=400 if error else 200)
