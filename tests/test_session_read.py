"""A patient's session: Django's cached database sessions, and the user read with what every request needs.

The cache answers the session read; the database keeps the record, so a flushed cache signs
nobody out. Signing out everywhere, a deactivated account or a changed password still end it.
"""

import pytest
from django.core.cache import cache
from django.test import Client

from prepapp.authentication import SESSION_USER_BACKEND
from prepapp.models import SessionGeneration

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def phone(patient) -> Client:
    client = Client()
    client.force_login(patient.user, backend=SESSION_USER_BACKEND)
    return client


def session_key(client) -> str:
    return client.cookies["sessionid"].value


def test_a_patients_request_reads_only_its_user_with_patient_record_and_generation(pat, django_assert_num_queries):
    client = phone(pat)
    assert client.get(ME).status_code == 200
    with django_assert_num_queries(1):  # the session from the cache; the user with both relations
        assert client.get(ME).json()["patient"]["id"] == pat.pk


def test_a_flushed_cache_signs_nobody_out(pat, django_assert_num_queries):
    client = phone(pat)
    assert client.get(ME).status_code == 200
    cache.clear()  # Redis restarted or flushed: the database still holds the session
    with django_assert_num_queries(2):  # the session from the database, then its user
        assert client.get(ME).json()["patient"]["id"] == pat.pk
    with django_assert_num_queries(1):  # and the cache has it again
        assert client.get(ME).status_code == 200


def test_signing_out_everywhere_ends_a_session_read_with_its_user(pat):
    client = phone(pat)
    assert client.get(ME).status_code == 200
    generation, _ = SessionGeneration.objects.get_or_create(user=pat.user)
    generation.generation += 1
    generation.save()
    assert client.get(ME).status_code == 401


def test_a_deactivated_account_is_signed_out_though_read_with_its_session(pat):
    client = phone(pat)
    assert client.get(ME).status_code == 200
    pat.user.is_active = False
    pat.user.save(update_fields=["is_active"])
    assert client.get(ME).status_code == 401


def test_a_changed_password_ends_the_session_read_with_its_user(pat):
    client = phone(pat)
    assert client.get(ME).status_code == 200
    pat.user.set_password("a-new-password-for-pat")
    pat.user.save(update_fields=["password"])
    assert client.get(ME).status_code == 401
