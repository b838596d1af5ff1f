"""Signing staff in with a second factor in tests, with django-otp's own devices and TOTP.

- give_second_factor(user): a confirmed authenticator-app device (django-otp's TOTPDevice);
- code_for(device): the code the phone would show now, computed with django-otp's TOTP, one
  the device has not accepted yet (it takes each time step's code once);
- VerifiedClient: Django's test client whose force_login also marks the session verified
  with the user's device when they have one, as django-otp does after a right code.
"""

from __future__ import annotations

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def give_second_factor(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def code_for(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    step = max(totp.t(), device.last_t + 1)
    if step > totp.t() + device.tolerance:  # the next allowed code is not shown yet: wait for it
        time.sleep((step - device.tolerance) * device.step + device.t0 - time.time() + 0.1)
    totp.time = step * device.step + device.t0
    return f"{totp.token():0{device.digits}d}"


def mark_verified(client, user) -> None:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


class VerifiedClient(Client):
    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        mark_verified(self, user)
