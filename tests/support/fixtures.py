"""Fixtures for the reminder tests; test modules import the ones they use."""

from __future__ import annotations

import pytest
from django.test import Client

from checklists.payloads import clear_payload_caches
from prepapp.authentication import SESSION_USER_BACKEND
from prepapp.reminders.models import PushSubscription

from .push_service import PushService, vapid_key_pair
from .smtp import SmtpSink


@pytest.fixture(autouse=True)
def journal_dir(settings, tmp_path):
    """Each test's send journal in its own folder (the worker processes it starts get it too)."""
    settings.REMINDER_JOURNAL_DIR = tmp_path / "journal"
    return settings.REMINDER_JOURNAL_DIR


@pytest.fixture
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def vapid_keys():
    """A key pair made for this run only (never stored)."""
    return vapid_key_pair()


@pytest.fixture
def push_service(vapid_keys):
    service = PushService(expected_public_key=vapid_keys[0]).start()
    yield service
    service.stop()


@pytest.fixture
def email_to_sink(settings, smtp_sink):
    """This process's Django email goes to the real SMTP sink."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    return smtp_sink


@pytest.fixture
def push_configured(settings, vapid_keys, push_service):
    """Web Push set up with this run's keys, allowed to reach the loopback stand-in."""
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys
    settings.VAPID_SUBJECT = "mailto:operations@example.org"
    settings.WEBPUSH_ALLOW_HTTP = True
    settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    settings.WEBPUSH_TIMEOUT_SECONDS = 2
    return push_service


def subscribe(patient, service: PushService, name: str = "phone"):
    """A fake browser of the patient's, subscribed (as the PWA would have done)."""
    browser = service.browser(name)
    PushSubscription.objects.create(patient=patient, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)
    return browser


@pytest.fixture
def cold_payload_caches():
    """No kept protocol steps nor rendered answers before or after: reads and counts start cold."""
    clear_payload_caches()
    yield
    clear_payload_caches()


def signed_in_phone(patient) -> Client:
    """A patient's phone, signed in the way the app signs them in (a session of their own)."""
    client = Client()
    client.force_login(patient.user, backend=SESSION_USER_BACKEND)
    return client
