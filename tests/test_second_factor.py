"""Staff sign in with a second factor (django-otp): who must, setting one up, the code, a lead's reset.

On the coordinator pages the password alone signs nobody in who must have a second factor;
the admin lets in only verified sessions; the token endpoint asks for `otp_token`. Patients
never meet any of it. Codes are computed as the phone would, with django-otp's own TOTP.
"""

from __future__ import annotations

import base64
import io
import re
from binascii import hexlify

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from prepapp.models import AuditEntry, StaffMembership
from prepapp.two_factor import SECOND_FACTOR_RESET_ACTION

from .factories import StaffFactory, UserFactory
from .support.second_factor import code_for, give_second_factor, mark_verified

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factories' password
ORIGIN = {"HTTP_ORIGIN": "http://testserver"}


def sign_in_with_password(client, username):
    return client.post("/coordinator/login/", {"username": username, "password": PASSWORD})


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


@pytest.fixture
def lena(riverside):
    """A clinical lead at Riverside who has not set up her second factor yet."""
    return StaffFactory(
        user=UserFactory(username="lena"), organization=riverside, role=StaffMembership.Role.CLINICAL_LEAD
    ).user


@pytest.fixture
def erin(elsewhere):
    """Elsewhere's clinical lead: the outsider for resets."""
    lead = StaffFactory(
        user=UserFactory(username="erin"), organization=elsewhere, role=StaffMembership.Role.CLINICAL_LEAD
    ).user
    give_second_factor(lead)
    return lead


# --- Who is asked -------------------------------------------------------------------------------


def test_a_lead_s_password_alone_signs_her_in_nowhere(lee):
    browser = Client()
    response = sign_in_with_password(browser, "lee")
    assert response.status_code == 302 and response["Location"] == "/coordinator/login/code/"
    assert not signed_in(browser)
    assert browser.get("/coordinator/")["Location"].startswith("/coordinator/login/")
    assert browser.get("/api/v1/roster/").status_code == 401
    assert browser.get("/admin/")["Location"].startswith("/admin/login/")


def test_the_right_code_signs_the_lead_in_and_a_wrong_one_does_not(lee):
    browser = Client()
    sign_in_with_password(browser, "lee")
    wrong = browser.post("/coordinator/login/code/", {"otp_token": "000000"})
    assert wrong.status_code == 400 and "This code is not valid" in wrong.content.decode()
    assert not signed_in(browser)
    empty = browser.post("/coordinator/login/code/", {"otp_token": " "})
    assert empty.status_code == 400 and "Enter the 6-digit code" in empty.content.decode()

    device = TOTPDevice.objects.get(user=lee)
    device.throttle_reset()  # the wrong code made the next try wait a second (django-otp's throttling)
    right = browser.post("/coordinator/login/code/", {"otp_token": code_for(device)})
    assert right.status_code == 302 and right["Location"] == "/coordinator/"
    assert signed_in(browser) and browser.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert browser.get("/coordinator/").status_code == 200


def test_the_code_step_waits_only_a_few_minutes(lee, settings):
    settings.SECOND_FACTOR_PENDING_MINUTES = 0
    browser = Client()
    sign_in_with_password(browser, "lee")
    late = browser.post("/coordinator/login/code/", {"otp_token": code_for(TOTPDevice.objects.get(user=lee))})
    assert late["Location"] == "/coordinator/login/" and not signed_in(browser)


def test_a_coordinator_is_asked_only_when_her_organization_says_so(carol, riverside):
    browser = Client()
    assert sign_in_with_password(browser, "carol")["Location"] == "/coordinator/"
    assert browser.get("/coordinator/").status_code == 200

    riverside.staff_second_factor_required = True
    riverside.save()
    # Her session began without a second factor: the next page signs her out to sign in again.
    assert browser.get("/coordinator/")["Location"].startswith("/coordinator/login/")
    assert not signed_in(browser)
    assert sign_in_with_password(browser, "carol")["Location"] == "/coordinator/login/set-up-code/"


# --- Setting it up ------------------------------------------------------------------------------


def secret_on(page: str) -> bytes:
    found = re.search(r'<code class="secret-key" id="secret-key">([A-Z2-7 ]+)</code>', page)
    assert found, page
    text = found.group(1).replace(" ", "")
    return base64.b32decode(text + "=" * (-len(text) % 8))


def phone_code(key: bytes) -> str:
    totp = TOTP(key)
    return f"{totp.token():06d}"


def test_a_lead_sets_up_her_authenticator_app_and_keeps_recovery_codes(lena):
    browser = Client()
    assert sign_in_with_password(browser, "lena")["Location"] == "/coordinator/login/set-up-code/"
    page = browser.get("/coordinator/login/set-up-code/")
    html = page.content.decode()
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in html
    key = secret_on(html)
    # The QR code holds the same key, in the otpauth URI the apps read.
    device = TOTPDevice.objects.get(user=lena, confirmed=False)
    assert device.key == hexlify(key).decode()
    assert device.config_url.startswith("otpauth://totp/Surgery%20preparation%3Alena?")
    # Reloading keeps the same key (the app already scanned still gives good codes).
    assert secret_on(browser.get("/coordinator/login/set-up-code/").content.decode()) == key

    not_the_phones = "123456" if phone_code(key) != "123456" else "654321"
    wrong = browser.post("/coordinator/login/set-up-code/", {"otp_token": not_the_phones})
    assert wrong.status_code == 400 and not signed_in(browser)
    TOTPDevice.objects.filter(user=lena).update(throttling_failure_count=0, throttling_failure_timestamp=None)

    done = browser.post("/coordinator/login/set-up-code/", {"otp_token": phone_code(key)})
    assert done.status_code == 200 and signed_in(browser)
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10
    assert TOTPDevice.objects.get(user=lena).confirmed
    assert browser.get("/coordinator/").status_code == 200

    # Next time: a recovery code in place of the phone's, once.
    again = Client()
    assert sign_in_with_password(again, "lena")["Location"] == "/coordinator/login/code/"
    assert again.post("/coordinator/login/code/", {"otp_token": codes[0]}).status_code == 302
    once_more = Client()
    sign_in_with_password(once_more, "lena")
    assert once_more.post("/coordinator/login/code/", {"otp_token": codes[0]}).status_code == 400
    assert not signed_in(once_more)


def test_the_set_up_page_is_only_for_a_password_just_given(lee):
    assert Client().get("/coordinator/login/set-up-code/")["Location"] == "/coordinator/login/"
    assert Client().post("/coordinator/login/code/", {"otp_token": "123456"})["Location"] == "/coordinator/login/"
    # lee has her app already: no new key is shown to someone who knows her password.
    browser = Client()
    sign_in_with_password(browser, "lee")
    assert browser.get("/coordinator/login/set-up-code/")["Location"] == "/coordinator/login/code/"
    assert not TOTPDevice.objects.filter(user=lee, confirmed=False).exists()


# --- The token endpoint ---------------------------------------------------------------------------


def ask_for_token(username, **extra):
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD, **extra},
                            format="json")


def test_the_token_endpoint_asks_a_lead_for_her_code(lee):
    missing = ask_for_token("lee")
    assert missing.status_code == 400 and list(missing.json()) == ["otp_token"]
    wrong = ask_for_token("lee", otp_token="000000")
    assert wrong.status_code == 400 and list(wrong.json()) == ["otp_token"]
    assert not Token.objects.filter(user=lee).exists()
    device = TOTPDevice.objects.get(user=lee)
    device.throttle_reset()
    issued = ask_for_token("lee", otp_token=code_for(device))
    assert issued.status_code == 200 and Token.objects.filter(user=lee, key=issued.json()["token"]).exists()


def test_the_token_endpoint_tells_a_lead_without_a_second_factor_to_set_one_up(lena):
    refused = ask_for_token("lena", otp_token="123456")
    assert refused.status_code == 400 and "Set it up" in refused.json()["otp_token"][0]


def test_a_coordinator_needs_no_code_unless_asked(carol):
    assert ask_for_token("carol").status_code == 200


def test_a_wrong_password_is_refused_before_any_code_is_looked_at(lee):
    response = APIClient().post("/api/v1/auth/token/", {"username": "lee", "password": "wrong", "otp_token": "1"},
                                format="json")
    assert response.status_code == 400 and list(response.json()) == ["detail"]


# --- The admin --------------------------------------------------------------------------------


def test_the_admin_requires_the_second_factor(lead_admin):
    unverified = Client()
    unverified.force_login(lead_admin)  # a session without the second factor
    assert unverified.get("/admin/")["Location"].startswith("/admin/login/")

    browser = Client()
    password_only = browser.post("/admin/login/", {"username": "lee", "password": PASSWORD})
    assert password_only.status_code == 200 and not signed_in(browser)
    wrong = browser.post("/admin/login/", {"username": "lee", "password": PASSWORD, "otp_token": "000000"})
    assert wrong.status_code == 200 and not signed_in(browser)
    # The code with the password, in one go (django-otp's form, the code's shape picking the device).
    device = TOTPDevice.objects.get(user=lead_admin)
    device.throttle_reset()
    with_code = browser.post("/admin/login/", {"username": "lee", "password": PASSWORD,
                                               "otp_token": code_for(device)})
    assert with_code.status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_the_demo_leads_printed_recovery_code_opens_the_admin(db, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    codes = re.search(r"one of ([a-z2-7, ]+) \(each works once", out.getvalue()).group(1).split(", ")
    assert len(codes) == 5
    browser = Client()
    answer = browser.post("/admin/login/", {"username": "lead", "password": "prepare-demo-2026", "otp_token": codes[0]})
    assert answer.status_code == 302 and browser.get("/admin/").status_code == 200


def test_the_operator_bootstraps_with_djangos_otp_command_and_the_admin_keeps_devices_to_itself(lead_admin, client):
    client.force_login(lead_admin)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 403


# --- A lead resets a teammate's ----------------------------------------------------------------


@pytest.fixture
def carol_with_app(carol):
    give_second_factor(carol)
    return carol


def membership_of(user):
    return StaffMembership.objects.get(user=user)


def test_a_lead_resets_a_teammates_second_factor(lee, carol_with_app, client):
    carols_phone = APIClient()
    carols_phone.force_login(carol_with_app)
    client.force_login(lee)
    team = client.get("/coordinator/team/")
    assert team.status_code == 200 and "carol" in team.content.decode()

    response = client.post(f"/coordinator/team/{membership_of(carol_with_app).pk}/reset-second-factor/",
                           REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=carol_with_app).exists()
    assert not StaticDevice.objects.filter(user=carol_with_app).exists()
    entry = AuditEntry.objects.get(action=SECOND_FACTOR_RESET_ACTION)
    assert entry.actor == lee and entry.organization.slug == "riverside" and entry.patient is None
    assert entry.ip_address == "192.0.2.44" and str(membership_of(carol_with_app).pk) in entry.path
    # carol's sessions ended with it.
    assert carols_phone.get("/api/v1/roster/").status_code in (401, 403)
    assert "removed" in client.get("/coordinator/team/").content.decode()


def test_a_lead_of_another_organization_cannot_reset_ours(erin, carol_with_app, client):
    client.force_login(erin)
    team = client.get("/coordinator/team/")
    assert team.status_code == 200 and "carol" not in team.content.decode()
    response = client.post(f"/coordinator/team/{membership_of(carol_with_app).pk}/reset-second-factor/")
    assert response.status_code == 404
    assert TOTPDevice.objects.filter(user=carol_with_app).exists()
    assert not AuditEntry.objects.filter(action=SECOND_FACTOR_RESET_ACTION).exists()


def test_coordinators_patients_and_strangers_cannot_reset(lee, carol, olga, pat, client):
    lees = membership_of(lee).pk
    for user in (carol, olga):
        client.force_login(user)
        assert client.get("/coordinator/team/").status_code == 404
        assert client.post(f"/coordinator/team/{lees}/reset-second-factor/").status_code == 404
    client.force_login(pat.user)
    assert client.post(f"/coordinator/team/{lees}/reset-second-factor/").status_code == 403
    anonymous = Client().post(f"/coordinator/team/{lees}/reset-second-factor/")
    assert anonymous["Location"].startswith("/coordinator/login/")
    assert TOTPDevice.objects.filter(user=lee).exists()
    assert not AuditEntry.objects.filter(action=SECOND_FACTOR_RESET_ACTION).exists()


def test_a_lead_cannot_reset_her_own(lee, client):
    client.force_login(lee)
    assert client.post(f"/coordinator/team/{membership_of(lee).pk}/reset-second-factor/").status_code == 404


# --- Patients ----------------------------------------------------------------------------------


def test_patients_still_sign_in_with_their_code_alone(pat):
    response = APIClient().post("/api/v1/auth/invitation/", {"code": pat.invitation_code}, format="json", **ORIGIN)
    assert response.status_code == 200 and response.json()["kind"] == "patient"


def test_an_api_session_begun_without_a_needed_second_factor_is_refused(carol, riverside, lee):
    browser = APIClient()
    browser.force_login(carol)
    assert browser.get("/api/v1/roster/").status_code == 200
    riverside.staff_second_factor_required = True
    riverside.save()
    assert browser.get("/api/v1/roster/").status_code == 403
    # A lead's session without her code, likewise; with it, her reads work.
    unverified = APIClient()
    unverified.force_login(lee)
    assert unverified.get("/api/v1/roster/").status_code == 403
    verified = Client()
    verified.force_login(lee)
    mark_verified(verified, lee)
    assert verified.get("/api/v1/roster/").status_code == 200
