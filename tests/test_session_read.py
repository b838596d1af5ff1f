"""A patient's session is read with its user in one statement, and that shortcut changes nothing else.

The process remembers whose each patient session is (from the session's own signed data) and
reads the next request's session with that user, patient record and session generation. The
remembered owner is only a guess: the session data read in the same statement decides, and
signing out everywhere, a deactivated account or a session from another process work as before.
"""

import pytest
from django.test import Client

from prepapp.authentication import SESSION_USER_BACKEND
from prepapp.models import SessionGeneration
from prepapp.sessions import _known_sessions, forget_known_sessions

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def phone(patient) -> Client:
    client = Client()
    client.force_login(patient.user, backend=SESSION_USER_BACKEND)
    return client


def session_key(client) -> str:
    return client.cookies["sessionid"].value


def test_a_session_this_process_has_not_seen_is_read_with_its_user_from_then_on(pat, django_assert_num_queries):
    client = phone(pat)
    forget_known_sessions()  # as if signed in through another process
    with django_assert_num_queries(2):  # the session, then its user
        assert client.get(ME).status_code == 200
    with django_assert_num_queries(1):  # both in one statement
        assert client.get(ME).json()["patient"]["id"] == pat.pk


def test_a_wrong_guess_is_never_believed(pat, paul):
    client = phone(pat)
    _known_sessions.put(session_key(client), str(paul.user.pk))  # a stale or wrong note of the owner
    answer = client.get(ME)
    assert answer.status_code == 200 and answer.json()["patient"]["id"] == pat.pk
    assert client.get(ME).json()["patient"]["id"] == pat.pk  # and the note is corrected


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
