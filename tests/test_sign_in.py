"""Sign-in that cannot be reused, and sessions that end.

Invitation codes work once, for a limited time, and are shown only when issued; emailed
sign-in links work once, for 15 minutes, for their own patient; sessions end when left
unused (staff sooner than patients) and everywhere at once on request; and sign-in is only
accepted from the app's own pages.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from prepapp import services
from prepapp.models import (
    SESSION_LAST_ACTIVITY_KEY,
    AuditEntry,
    Patient,
    SignInLink,
    invitation_code_digest,
)
from prepapp.session_policy import REFRESH_SECONDS

pytestmark = pytest.mark.django_db

OWN_PAGE = {"HTTP_ORIGIN": "http://testserver"}


def sign_in_with_code(code, client=None, **headers):
    client = client or APIClient()
    return client, client.post("/api/v1/auth/invitation/", {"code": code}, format="json", **(headers or OWN_PAGE))


def signed_in_as(client):
    response = client.get("/api/v1/me/")
    if response.status_code != 200:
        return None
    data = response.json()
    return data["patient"]["id"] if data["kind"] == "patient" else data["username"]


# --- Invitation codes ---------------------------------------------------------------------


def test_a_code_signs_in_once_and_is_then_spent(pat):
    phone, response = sign_in_with_code(pat.invitation_code.lower())
    assert response.status_code == 200, response.content
    assert response.json()["patient"]["id"] == pat.pk
    assert signed_in_as(phone) == pat.pk

    _, again = sign_in_with_code(pat.invitation_code)
    assert again.status_code == 400
    assert again.json() == {"code": ["This code is not valid. Please check it with your care team."]}
    pat.refresh_from_db()
    assert pat.invitation_code_hash is None and pat.invitation_accepted_at is not None
    assert signed_in_as(phone) == pat.pk  # the phone that used it stays signed in


def test_a_code_works_for_its_lifetime_only(pat, settings):
    issued = Patient.objects.get(pk=pat.pk)
    lifetime = issued.invitation_expires_at - timezone.now()
    assert timedelta(days=settings.INVITATION_CODE_TTL_DAYS) - lifetime < timedelta(minutes=1)
    assert settings.INVITATION_CODE_TTL_DAYS == 14

    Patient.objects.filter(pk=pat.pk).update(invitation_expires_at=timezone.now() - timedelta(seconds=1))
    _, response = sign_in_with_code(pat.invitation_code)
    assert response.status_code == 400 and "code" in response.json()
    # The refusal is the same as for a code that never existed.
    _, unknown = sign_in_with_code("ZZZZ2222")
    assert unknown.json() == response.json()


def test_the_code_is_stored_only_as_a_keyed_hash(pat):
    stored = Patient.objects.filter(pk=pat.pk).values().get()
    assert pat.invitation_code not in repr(stored)
    assert stored["invitation_code_hash"] == invitation_code_digest(pat.invitation_code)
    assert pat.invitation_code.lower() not in pat.user.username
    assert Patient.objects.get(pk=pat.pk).invitation_code is None


def test_enrolment_shows_the_code_once_and_reads_never_do(as_carol, carol):
    response = as_carol.post(
        "/api/v1/patients/", {"full_name": "Nina Novak", "contact_email": "nina@example.org"}, format="json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    code = created["invitation_code"]
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)

    listing = as_carol.get("/api/v1/patients/")
    one = as_carol.get(f"/api/v1/patients/{created['id']}/")
    for response in (listing, one):
        assert response.status_code == 200
        assert code not in response.content.decode()
    assert one.json()["invitation_code"] is None
    assert "invitation_accepted_at" in one.json()

    _, signed_in = sign_in_with_code(code)
    assert signed_in.status_code == 200 and signed_in.json()["patient"]["id"] == created["id"]


def test_a_fresh_code_replaces_the_unspent_one(as_carol, carol, pat):
    old = pat.invitation_code
    response = as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/")
    assert response.status_code == 201, response.content
    issued = response.json()
    assert set(issued) == {"invitation_code", "join_url", "expires_at"}
    assert issued["invitation_code"] != old
    assert issued["join_url"] == f"http://testserver/join/#{issued['invitation_code']}"

    _, with_old = sign_in_with_code(old)
    assert with_old.status_code == 400
    _, with_new = sign_in_with_code(issued["invitation_code"])
    assert with_new.status_code == 200 and with_new.json()["patient"]["id"] == pat.pk

    entry = AuditEntry.objects.get(action="issue-invitation")
    assert (entry.actor, entry.patient) == (carol, pat)
    # The code never reaches the audit trail or a later read.
    assert issued["invitation_code"] not in entry.path
    assert issued["invitation_code"] not in as_carol.get(f"/api/v1/patients/{pat.pk}/").content.decode()


def test_a_fresh_code_after_the_first_was_used(as_carol, pat):
    sign_in_with_code(pat.invitation_code)
    code = as_carol.post(f"/api/v1/patients/{pat.pk}/invitation/").json()["invitation_code"]
    second_phone, response = sign_in_with_code(code)
    assert response.status_code == 200 and signed_in_as(second_phone) == pat.pk


def test_only_staff_of_the_patients_organization_issue_codes(as_olga, as_paul, pat):
    before = Patient.objects.get(pk=pat.pk).invitation_code_hash
    response = as_olga.post(f"/api/v1/patients/{pat.pk}/invitation/")
    assert response.status_code == 404
    assert response.json() == {"detail": ["No such patient."]}
    assert as_olga.post("/api/v1/patients/999999/invitation/").status_code == 404
    assert as_paul.post(f"/api/v1/patients/{pat.pk}/invitation/").status_code == 403
    assert APIClient().post(f"/api/v1/patients/{pat.pk}/invitation/").status_code in (401, 403)
    assert Patient.objects.get(pk=pat.pk).invitation_code_hash == before
    assert not AuditEntry.objects.filter(action="issue-invitation").exists()
    _, still = sign_in_with_code(pat.invitation_code)
    assert still.status_code == 200


# --- Sign-in only from the app's own pages -------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_REFERER": "https://evil.example/join/"},
        {"HTTP_ORIGIN": "https://testserver"},  # another scheme is another origin
        {},
    ],
    ids=["foreign-origin", "opaque-origin", "foreign-referer", "other-scheme", "neither"],
)
def test_sign_in_from_elsewhere_is_refused(pat, headers):
    client = APIClient()
    response = client.post("/api/v1/auth/invitation/", {"code": pat.invitation_code}, format="json", **headers)
    assert response.status_code == 403
    assert response.json() == {"detail": ["Sign in from the app's own pages."]}
    assert signed_in_as(client) is None
    # Nothing was spent: the patient can still use the code from the app.
    assert Patient.objects.get(pk=pat.pk).invitation_code_hash is not None
    response = client.post("/api/v1/auth/sign-in-link/redeem/", {"token": "x" * 43}, format="json", **headers)
    assert response.status_code == 403


def test_the_referer_stands_in_for_a_missing_origin(pat):
    _, response = sign_in_with_code(pat.invitation_code, HTTP_REFERER="http://testserver/join/ABC/")
    assert response.status_code == 200


def test_trusted_origins_may_sign_in(pat, paul, settings, as_carol):
    settings.CSRF_TRUSTED_ORIGINS = ["https://prep.example.org", "https://*.clinic.example"]
    _, response = sign_in_with_code(pat.invitation_code, HTTP_ORIGIN="https://prep.example.org")
    assert response.status_code == 200
    code = as_carol.post(f"/api/v1/patients/{paul.pk}/invitation/").json()["invitation_code"]
    _, response = sign_in_with_code(code, HTTP_ORIGIN="https://app.clinic.example")
    assert response.status_code == 200


# --- Sign-in links by email ----------------------------------------------------------------


def wait_for_mail(sink, count: int, timeout: float = 10.0) -> list:
    """The emails leave from a thread of their own after the commit: wait for them to land."""
    deadline = time.monotonic() + timeout
    while len(sink.received()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sink.received()


def ask_for_link(client, email, capture):
    with capture(execute=True):
        return client.post("/api/v1/auth/sign-in-link/", {"email": email}, format="json")


def token_in(message) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000/signin/#([A-Za-z0-9_-]+)\s", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def redeem(client, token, **headers):
    return client.post("/api/v1/auth/sign-in-link/redeem/", {"token": token}, format="json", **(headers or OWN_PAGE))


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(
    pat, email_to_sink, site_url, django_capture_on_commit_callbacks
):
    client = APIClient()
    known = ask_for_link(client, "PAT@example.org", django_capture_on_commit_callbacks)
    unknown = ask_for_link(client, "nobody@example.org", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == {"email": "PAT@example.org", "expires_in_minutes": 15}
    assert unknown.json() == {"email": "nobody@example.org", "expires_in_minutes": 15}

    received = wait_for_mail(email_to_sink, 1)
    time.sleep(0.3)  # and nothing else arrives
    assert len(email_to_sink.received()) == 1
    message = received[0]
    assert message["To"] == "pat@example.org"
    assert message["Subject"] == "Your sign-in link"
    assert "Hello Pat Example," in message.get_content()
    assert "within 15 minutes" in message.get_content()
    assert SignInLink.objects.filter(patient=pat).count() == 1


def test_a_bad_address_is_named(client):
    response = client.post("/api/v1/auth/sign-in-link/", {"email": "not an address"}, content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["email"]


def test_the_email_speaks_the_patients_language(riverside, email_to_sink, site_url, django_capture_on_commit_callbacks):
    services.patient_enrol(
        organization=riverside, full_name="Lucía Ramos", contact_email="lucia@example.org", language="es"
    )
    ask_for_link(APIClient(), "lucia@example.org", django_capture_on_commit_callbacks)
    message = wait_for_mail(email_to_sink, 1)[0]
    assert message["Subject"] == "Su enlace para iniciar sesión"
    assert "Hola, Lucía Ramos:" in message.get_content()
    assert "15 minutos" in message.get_content()


def test_a_link_signs_its_own_patient_in_once(pat, paul, email_to_sink, site_url, django_capture_on_commit_callbacks):
    ask_for_link(APIClient(), "pat@example.org", django_capture_on_commit_callbacks)
    token = token_in(wait_for_mail(email_to_sink, 1)[0])

    laptop = APIClient()
    response = redeem(laptop, token)
    assert response.status_code == 200, response.content
    assert response.json()["patient"]["id"] == pat.pk and response.json()["kind"] == "patient"
    assert signed_in_as(laptop) == pat.pk

    again = redeem(APIClient(), token)
    assert again.status_code == 400
    assert again.json() == {"token": [services.SIGN_IN_LINK_REFUSED]}
    # The link is no invitation: pat's own code still works, and paul was never involved.
    assert Patient.objects.get(pk=pat.pk).invitation_code_hash is not None
    assert SignInLink.objects.get().used_at is not None


def test_a_link_expires_after_15_minutes(pat, email_to_sink, site_url, django_capture_on_commit_callbacks):
    ask_for_link(APIClient(), "pat@example.org", django_capture_on_commit_callbacks)
    token = token_in(wait_for_mail(email_to_sink, 1)[0])
    link = SignInLink.objects.get()
    assert link.expires_at - link.created_at == timedelta(minutes=15)
    with pytest.raises(ValidationError):
        services.sign_in_link_redeem(token=token, now=link.created_at + timedelta(minutes=15, seconds=1))

    SignInLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = redeem(APIClient(), token)
    assert response.status_code == 400 and "token" in response.json()


def test_a_link_is_stored_hashed_and_never_logged(
    pat, email_to_sink, site_url, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    client = APIClient()
    ask_for_link(client, "pat@example.org", django_capture_on_commit_callbacks)
    token = token_in(wait_for_mail(email_to_sink, 1)[0])
    assert redeem(client, token).status_code == 200
    assert redeem(APIClient(), token).status_code == 400

    assert token not in caplog.text
    assert all(token not in str(record.args) for record in caplog.records)
    stored = SignInLink.objects.values().get()
    assert token not in repr(stored) and len(stored["token_hash"]) == 64


def test_a_made_up_token_signs_nobody_in(pat):
    response = redeem(APIClient(), "made-up-token")
    assert response.status_code == 400 and "token" in response.json()


# --- Sessions that end ------------------------------------------------------------------------


def browser_session(user):
    client = APIClient()
    client.force_login(user)
    return client


def idle_for(client, seconds: int):
    session = client.session
    session[SESSION_LAST_ACTIVITY_KEY] -= seconds
    session.save()


def test_a_staff_session_ends_after_30_idle_minutes(carol, settings):
    assert settings.STAFF_SESSION_IDLE_MINUTES == 30
    desk = browser_session(carol)
    assert signed_in_as(desk) == "carol"
    idle_for(desk, 29 * 60)
    assert signed_in_as(desk) == "carol"  # and that use moved the window on
    idle_for(desk, 29 * 60)
    assert signed_in_as(desk) == "carol"
    idle_for(desk, 31 * 60)
    assert signed_in_as(desk) is None
    assert desk.get("/coordinator/").status_code == 302  # back to the sign-in page


def test_a_patient_session_lasts_30_idle_days(pat, settings):
    assert settings.PATIENT_SESSION_IDLE_DAYS == 30
    phone = browser_session(pat.user)
    idle_for(phone, 29 * 24 * 3600)
    assert signed_in_as(phone) == pat.pk
    idle_for(phone, 31 * 24 * 3600)
    assert signed_in_as(phone) is None


def test_the_window_rolls_and_is_stored_with_the_session(carol, pat):
    desk = browser_session(carol)
    assert desk.session.get_expiry_age() == 30 * 60
    idle_for(desk, REFRESH_SECONDS + 5)
    before = desk.session[SESSION_LAST_ACTIVITY_KEY]
    signed_in_as(desk)
    assert desk.session[SESSION_LAST_ACTIVITY_KEY] > before
    assert desk.session.get_expiry_age() == 30 * 60
    assert browser_session(pat.user).session.get_expiry_age() == 30 * 24 * 3600


def test_signing_in_with_a_code_starts_a_patient_session(pat):
    phone, _ = sign_in_with_code(pat.invitation_code)
    assert phone.session.get_expiry_age() == 30 * 24 * 3600


# --- Signing out everywhere ---------------------------------------------------------------------


def test_staff_sign_out_everywhere_ends_every_session_and_token(carol):
    desk, laptop = browser_session(carol), browser_session(carol)
    token = Token.objects.create(user=carol)
    scripted = APIClient()
    scripted.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert scripted.get("/api/v1/me/").status_code == 200

    response = desk.post("/api/v1/auth/signout-everywhere/")
    assert response.status_code == 204
    assert signed_in_as(desk) is None
    assert signed_in_as(laptop) is None
    assert not Token.objects.filter(user=carol).exists()
    assert scripted.get("/api/v1/me/").status_code in (401, 403)

    # Signing in again afterwards works as usual.
    assert signed_in_as(browser_session(carol)) == "carol"


def test_a_patient_signs_out_on_all_devices(pat, paul):
    phone, _ = sign_in_with_code(pat.invitation_code)
    tablet = browser_session(pat.user)
    pauls = browser_session(paul.user)
    assert tablet.post("/api/v1/auth/signout-everywhere/").status_code == 204
    assert signed_in_as(phone) is None and signed_in_as(tablet) is None
    assert signed_in_as(pauls) == paul.pk  # nobody else is signed out


def test_sign_out_everywhere_needs_a_signed_in_caller_and_the_csrf_token(pat):
    assert APIClient().post("/api/v1/auth/signout-everywhere/").status_code in (401, 403)
    strict = APIClient(enforce_csrf_checks=True)
    strict.force_login(pat.user)
    assert strict.post("/api/v1/auth/signout-everywhere/").status_code == 403
    assert signed_in_as(strict) == pat.pk


# --- The contract ----------------------------------------------------------------------------------


def test_the_endpoints_are_typed_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        op["operationId"]: (path, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
        if isinstance(op, dict) and "operationId" in op
    }
    wanted = {
        "auth_invitation_create": ("/api/v1/auth/invitation/", "200"),
        "auth_sign_in_link_create": ("/api/v1/auth/sign-in-link/", "202"),
        "auth_sign_in_link_redeem_create": ("/api/v1/auth/sign-in-link/redeem/", "200"),
        "auth_signout_everywhere_create": ("/api/v1/auth/signout-everywhere/", "204"),
        "patients_invitation_create": ("/api/v1/patients/{id}/invitation/", "201"),
    }
    for operation_id, (path, success) in wanted.items():
        found_path, op = operations[operation_id]
        assert found_path == path
        assert op["tags"] == ["auth"]
        assert success in op["responses"]
    for operation_id in ("auth_invitation_create", "auth_sign_in_link_redeem_create"):
        ok = operations[operation_id][1]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/SignedIn"}


# --- Existing patients ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_unspent_codes_working_and_spends_used_ones():
    """Codes issued before hashing: an unused one works (for the usual time, from now); a used one is spent."""
    executor = MigrationExecutor(connection)
    # Every app's latest migration: going back to prepapp 0001 also unapplies the migrations of the
    # apps that depend on it (reminders, checklists), and they must all come back for later tests.
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("prepapp", "0001_initial")])
    old = MigrationExecutor(connection).loader.project_state([("prepapp", "0001_initial")]).apps
    User, Organization, OldPatient = (old.get_model(*name.split(".")) for name in [
        "auth.User", "prepapp.Organization", "prepapp.Patient",
    ])
    org = Organization.objects.create(name="Riverside", slug="riverside")
    waiting = OldPatient.objects.create(
        organization=org, full_name="Wendy Waiting", invitation_code="WAIT2345",
        user=User.objects.create(username="patient-wait2345", password="!"),
    )
    used = OldPatient.objects.create(
        organization=org, full_name="Uma Used", invitation_code="USED2345", invitation_accepted_at=timezone.now(),
        user=User.objects.create(username="patient-used2345", password="!"),
    )

    MigrationExecutor(connection).migrate(latest)

    wendy, uma = Patient.objects.get(pk=waiting.pk), Patient.objects.get(pk=used.pk)
    assert wendy.invitation_code_hash == invitation_code_digest("WAIT2345")
    assert timedelta(days=13, hours=23) < wendy.invitation_expires_at - timezone.now() <= timedelta(days=14)
    assert uma.invitation_code_hash is None
    # The logins no longer carry the codes in their names.
    assert "wait2345" not in wendy.user.username and "used2345" not in uma.user.username
    assert sign_in_with_code("wait2345")[1].status_code == 200
    assert sign_in_with_code("USED2345")[1].status_code == 400
