"""The staff's second factor: who must have one, enrolling an authenticator app, checking a code, a reset.

Built on django-otp's own devices and their verification (with its throttling of wrong codes):
a TOTPDevice for the authenticator app, and a StaticDevice holding single-use recovery codes.
Clinical leads and operators must have a second factor, and coordinators too when their
organization asks for it (Organization.staff_second_factor_required); anyone who has one is
asked for it. Patients never are: they sign in with their invitation code or emailed links.
Each verb here runs in one transaction.
"""

from __future__ import annotations

import base64
import io

import django_otp
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from prepapp.audit import audit_staff_change
from prepapp.models import StaffMembership
from prepapp.permissions import second_factor_required
from prepapp.services import user_sign_out_everywhere

RECOVERY_CODES = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
SECOND_FACTOR_RESET_ACTION = "reset-second-factor"

CODE_REQUIRED = _("Enter the 6-digit code from your authenticator app, or one of your recovery codes.")
CODE_REFUSED = _("This code is not valid. Check the time on your phone, or use a recovery code.")
ENROL_FIRST = _("Your account needs a second factor. Set it up on the care-team sign-in page first.")


def has_second_factor(user) -> bool:
    return django_otp.user_has_device(user, confirmed=True)


def second_factor_asked(user, memberships=None) -> bool:
    """Whether signing in asks for a code: required, or set up by choice."""
    return second_factor_required(user, memberships) or has_second_factor(user)


def device_for_code(*, user, token: str):
    """The confirmed device a code is meant for, told by its shape: 6 digits for the app, else a recovery code.

    One device is tried, never every one in turn: a wrong code counts against that device alone
    (django-otp throttles each device's wrong codes).
    """
    token = "".join((token or "").split())
    model = TOTPDevice if len(token) == 6 and token.isdigit() else StaticDevice
    return model.objects.devices_for_user(user, confirmed=True).first()


def verify_code(*, user, token: str):
    """The device that accepts this code (a 6-digit app code or a recovery code), or None.

    Each device counts its own wrong codes and makes the next try wait longer (django-otp's
    throttling); a recovery code works once, and so does each app code.
    """
    token = "".join((token or "").split()).lower()
    device = device_for_code(user=user, token=token) if token else None
    if device is None:
        return None
    return django_otp.verify_token(user, device.persistent_id, token)


@transaction.atomic
def second_factor_enrolment_begin(*, user) -> TOTPDevice:
    """A new, not yet confirmed authenticator-app device for the user (replacing any earlier unconfirmed one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)


def enrolment_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth URI as an SVG QR code (django-otp's own helper, with the qrcode package), for an <img>.

    A data: URI rather than inline SVG: the drawing is namespaced XML, which an HTML page
    would not draw, and the pages' Content-Security-Policy allows data: images.
    """
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def enrolment_secret(device: TOTPDevice) -> str:
    """The key as an authenticator app takes it when typed in: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


@transaction.atomic
def second_factor_enrolment_confirm(*, user, device_id: int, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the new app device with a code from it; returns it and fresh recovery codes (shown once).

    The app device replaces any earlier one, the recovery codes any earlier ones.
    """
    device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        raise ValidationError({"otp_token": _("This set-up has expired. Please start again.")})
    token = "".join((token or "").split())
    if not token:
        raise ValidationError({"otp_token": CODE_REQUIRED})
    if not device.verify_token(token):
        raise ValidationError({"otp_token": CODE_REFUSED})
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    return device, codes


def team_for_lead(lead):
    """The memberships a clinical lead may reset: everyone in the organizations she leads, but herself."""
    led = StaffMembership.objects.filter(user=lead, role=StaffMembership.Role.CLINICAL_LEAD).values("organization_id")
    return (
        StaffMembership.objects.filter(organization_id__in=led)
        .exclude(user=lead)
        .select_related("user", "organization")
        .order_by("organization__name", "user__username")
    )


class NotInYourTeam(LookupError):
    """The member of staff is not in an organization the caller leads (answered as not found)."""


@transaction.atomic
def second_factor_reset(*, membership_id: int, reset_by, path: str = "", ip: str = "") -> StaffMembership:
    """A clinical lead removes a teammate's second factor (lost phone): audited, within her organizations.

    The teammate's sessions and API tokens end at once; at their next sign-in they set up a
    new authenticator app (if their role requires one).
    """
    membership = team_for_lead(reset_by).filter(pk=membership_id).first()
    if membership is None:
        raise NotInYourTeam(membership_id)
    target = membership.user
    TOTPDevice.objects.filter(user=target).delete()
    StaticDevice.objects.filter(user=target).delete()
    user_sign_out_everywhere(user=target)
    audit_staff_change(
        actor=reset_by, organization=membership.organization, action=SECOND_FACTOR_RESET_ACTION, path=path, ip=ip,
    )
    return membership
