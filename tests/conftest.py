"""Shared fixtures: the named people of every authorization test, and the shipped protocol.

- carol: a care coordinator at Riverside (the owner of the patients below)
- lee: Riverside's clinical lead (a teammate), with an authenticator app as leads must have
- olga: a coordinator at another clinic (the outsider who must be refused)
- pat and paul: two Riverside patients; paul must never see pat's records
"""

import io
import os
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from rest_framework.test import APIClient

from checklists.models import Protocol
from prepapp.admin_scoping import clinical_lead_group
from prepapp.models import StaffMembership
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign

from .factories import OrganizationFactory, StaffFactory, UserFactory, days_from_today
from .support.second_factor import VerifiedClient, give_second_factor


# The reminder engine's fixtures: an SMTP sink, a Web Push stand-in and its VAPID keys.
pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Give each test run its own database, so runs sharing one PostgreSQL server never collide."""
    from django.conf import settings

    for alias in settings.DATABASES.values():
        if alias["ENGINE"].endswith("sqlite3"):
            continue
        base = alias.get("TEST", {}).get("NAME") or f"test_{alias['NAME']}"
        alias.setdefault("TEST", {})["NAME"] = f"{base}_{os.getpid()}"


@receiver(connection_created, dispatch_uid="tests.audit_truncate_allowed")
def _tests_may_empty_the_audit_trail(sender, connection, **kwargs):
    # Django empties every table with one TRUNCATE between transactional tests; the audit
    # trail refuses TRUNCATE unless the session asks first (prepapp migration 0009).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET prepapp.audit_truncate = 'allowed'")


@pytest.fixture
def protocol_version(db):
    call_command("load_protocols", stdout=io.StringIO())
    return Protocol.objects.get(key="mis-lumbar-fusion").latest_version()


@pytest.fixture
def riverside(db):
    return OrganizationFactory(name="Riverside Spine Center", slug="riverside")


@pytest.fixture
def elsewhere(db):
    return OrganizationFactory(name="Elsewhere Orthopedics", slug="elsewhere")


@pytest.fixture
def carol(riverside):
    return StaffFactory(user=UserFactory(username="carol"), organization=riverside).user


@pytest.fixture
def lee(riverside):
    lead = StaffFactory(
        user=UserFactory(username="lee"), organization=riverside, role=StaffMembership.Role.CLINICAL_LEAD
    ).user
    give_second_factor(lead)
    return lead


@pytest.fixture
def client():
    """Django's test client; its force_login signs staff in verified with their second factor, if they have one."""
    return VerifiedClient()


@pytest.fixture
def lead_admin(lee):
    """lee with the admin open to her, as a clinical lead who edits protocols there.

    Staff, not superuser: the demo's "Clinical lead" group gives her the model permissions,
    and the admin limits every row to Riverside's.
    """
    lee.is_staff = True
    lee.save()
    lee.groups.add(clinical_lead_group())
    return lee


@pytest.fixture
def olga(elsewhere):
    return StaffFactory(user=UserFactory(username="olga"), organization=elsewhere).user


@pytest.fixture
def pat(riverside):
    return patient_enrol(
        organization=riverside,
        full_name="Pat Example",
        contact_email="pat@example.org",
        time_zone="America/New_York",
        weight_kg=Decimal("80"),
        smoker=True,
        takes_nsaids=True,
    )


@pytest.fixture
def paul(riverside):
    return patient_enrol(organization=riverside, full_name="Paul Other", time_zone="Europe/Madrid", language="es")


@pytest.fixture
def pat_case(pat):
    return case_book(patient=pat, procedure="Minimally invasive lumbar fusion", surgery_date=days_from_today(35))


@pytest.fixture
def pat_checklist(pat_case, protocol_version, carol):
    return checklist_assign(case=pat_case, protocol_version=protocol_version, assigned_by=carol)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def as_carol(carol):
    return client_for(carol)


@pytest.fixture
def as_olga(olga):
    return client_for(olga)


@pytest.fixture
def as_pat(pat):
    return client_for(pat.user)


@pytest.fixture
def as_paul(paul):
    return client_for(paul.user)


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Each test counts its throttles and lockouts in its own corner of the shared cache."""
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for alias, config in settings.CACHES.items()
    }


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The hashed-name storage needs `collectstatic` first; tests serve the source files.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
