"""Limits on guessing that hold: the real client address, a shared counter, lockouts per account and per address.

A security review sent 300 wrong invitation codes with a changing X-Forwarded-For (none were
refused) and 300 wrong passwords to each password sign-in (all answered normally). These
tests repeat those attacks against the shared cache (Redis) and the database the service uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from prepapp import services
from prepapp.lib.client_address import client_ip
from prepapp.lib.throttling import GuessCeilingThrottle
from prepapp.models import SignInLink

from .support.second_factor import give_second_factor


def wait_for_mail(sink, count: int, timeout: float = 10.0) -> list:
    """The alert leaves from a thread of its own: wait for it to land."""
    deadline = time.monotonic() + timeout
    while len(sink.received()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sink.received()

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = {"HTTP_ORIGIN": "http://testserver"}


def wrong_code(client, n, **extra):
    return client.post("/api/v1/auth/invitation/", {"code": f"WRONG{n:03d}"}, format="json", **ORIGIN, **extra)


@pytest.mark.django_db
def test_a_changing_forwarded_for_header_does_not_reset_the_invitation_limit(pat):
    client = APIClient()
    answers = [wrong_code(client, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n % 250}").status_code for n in range(60)]
    assert answers[:20] == [400] * 20  # the configured 20 a minute, each told the code is wrong
    assert set(answers[20:]) == {429}
    refused = wrong_code(client, 99, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def code_attempt(code, ip):
    return APIClient().post("/api/v1/auth/invitation/", {"code": code}, format="json", REMOTE_ADDR=ip, **ORIGIN)


@pytest.mark.django_db
def test_sixteen_attacking_addresses_cannot_stop_a_patient_with_a_valid_code(pat, paul):
    """The global-ceiling probe: 16 addresses fill the ceiling over every address; pat still signs in."""
    attackers = [f"203.0.113.{n}" for n in range(1, 17)]
    answers = [code_attempt(f"WRONG{n:03d}", ip).status_code for ip in attackers for n in range(25)]
    # 20 checked per address (the per-address limit) until the ceiling (300 wrong codes); past
    # it an address that has guessed wrong 3 times this hour waits, before its guess is checked:
    # the 16th address had 3 checked.
    assert answers.count(400) == 15 * 20 + 3 and set(answers) == {400, 429}
    assert code_attempt("WRONG999", attackers[0]).status_code == 429
    # Guarded, an address that was guessing gets no code checked, not even a valid one…
    assert code_attempt(paul.invitation_code, attackers[3]).status_code == 429
    # …while pat, from her own address, signs in with hers.
    signed_in = code_attempt(pat.invitation_code, "198.51.100.20")
    assert signed_in.status_code == 200 and signed_in.json()["patient"]["id"] == pat.pk
    # A new address still has its codes checked while guarded: a few wrong ones, then it waits too.
    newcomer = [code_attempt(f"NEW{n:05d}", "198.51.100.30").status_code for n in range(4)]
    assert newcomer == [400, 400, 400, 429]
    assert int(code_attempt("NEW99999", "198.51.100.30")["Retry-After"]) <= 3600


@pytest.mark.django_db
def test_what_the_per_address_limit_refused_does_not_count_towards_the_ceiling(pat):
    """310 wrong codes from one address: 20 are checked, and only those count for everyone."""
    answers = [code_attempt(f"WRONG{n:03d}", "203.0.113.9").status_code for n in range(310)]
    assert answers[:20] == [400] * 20 and set(answers[20:]) == {429}
    assert GuessCeilingThrottle._count("invitation_all", "everyone", time.time())[0] == 20
    # Not on guard: another address gets its wrong codes checked as usual, and pat signs in.
    assert [code_attempt(f"OTHER{n:03d}", "198.51.100.40").status_code for n in range(5)] == [400] * 5
    assert code_attempt(pat.invitation_code, "198.51.100.41").status_code == 200


@pytest.mark.django_db
def test_only_the_trusted_proxys_entry_names_the_client(settings, rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.2"  # no trusted proxy: the header is the client's to forge
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"  # what our one proxy appended, not what the client wrote
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"


@pytest.mark.django_db
def test_the_invitation_limit_holds_across_processes(settings, pat):
    """Twenty wrong codes here, then one from a separate Python process: the shared counter refuses it."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {alias: {**config, "KEY_PREFIX": prefix} for alias, config in settings.CACHES.items()}
    assert "RedisCache" in settings.CACHES["default"]["BACKEND"], "the suite runs against the real Redis"
    client = APIClient()
    assert [wrong_code(client, n).status_code for n in range(20)] == [400] * 20
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().post('/api/v1/auth/invitation/', {'code': 'WRONG777'}, content_type='application/json',"
        " HTTP_ORIGIN='http://testserver');"
        "print(json.dumps({'status': r.status_code, 'retry': r.headers.get('Retry-After')}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "CACHE_KEY_PREFIX": prefix, "DEBUG": "true"}
    other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
    assert other.returncode == 0, other.stderr
    answer = json.loads(other.stdout.strip().splitlines()[-1])
    assert answer["status"] == 429 and int(answer["retry"]) > 0


def token_attempt(client, username, password, ip="192.0.2.10"):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json",
                       REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_a_strangers_wrong_passwords_lock_out_only_the_strangers_address(carol, email_to_sink):
    """The lockout-denial probe: an attacker's address locks, the real coordinator elsewhere still signs in."""
    carol.set_password("the-right-one-2026")
    carol.email = "carol@riverside.example.org"
    carol.save()
    attacker, office = "203.0.113.66", "198.51.100.99"
    client = APIClient()
    answers = [token_attempt(client, "carol", f"guess-{n}", ip=attacker).status_code for n in range(8)]
    assert answers[:4] == [400] * 4 and set(answers[5:]) == {429}
    # The attacker's address stays locked, even with the right password…
    locked = token_attempt(client, "carol", "the-right-one-2026", ip=attacker)
    assert locked.status_code == 429 and int(locked["Retry-After"]) == 15 * 60
    assert locked.json()["detail"][0].startswith("Too many failed sign-in attempts")
    # …and carol, from an address with no failures, signs in with hers, on every sign-in.
    assert token_attempt(APIClient(), "carol", "the-right-one-2026", ip=office).status_code == 200
    assert client.post("/coordinator/login/", {"username": "carol", "password": "the-right-one-2026"},
                       REMOTE_ADDR=office).status_code == 302
    # The administrator sees the lockout, for the attacker's address alone.
    assert AccessAttempt.objects.filter(username="carol", ip_address=attacker).get().failures_since_start >= 5
    assert not AccessAttempt.objects.filter(username="carol", ip_address=office, failures_since_start__gt=0).exists()

    # carol is told once, by email, however many more tries follow.
    mail = wait_for_mail(email_to_sink, 1)
    for n in range(5):
        token_attempt(client, "carol", f"more-{n}", ip=f"192.0.2.{n + 1}")
    time.sleep(0.5)
    assert len(email_to_sink.received()) == 1
    assert mail[0]["To"] == "carol@riverside.example.org"
    assert mail[0]["Subject"] == "Failed sign-ins to your care-team account"
    assert "203.0.113.66" in mail[0].get_content() and "5 failed sign-in attempts" in mail[0].get_content()


@pytest.mark.django_db
def test_failures_spread_over_addresses_still_tell_the_owner(carol, email_to_sink):
    """Four wrong passwords from each of two addresses lock nobody out, and carol still hears of them."""
    carol.email = "carol@riverside.example.org"
    carol.save()
    for n in range(4):
        assert token_attempt(APIClient(), "carol", f"a-{n}", ip="203.0.113.1").status_code == 400
    assert email_to_sink.received() == []
    token_attempt(APIClient(), "carol", "b-0", ip="203.0.113.2")
    assert len(wait_for_mail(email_to_sink, 1)) == 1


@pytest.mark.django_db
def test_one_address_trying_many_accounts_meets_the_per_address_limit(carol, olga):
    client = APIClient()
    answers = [token_attempt(client, f"someone-{n}", "guess", ip="192.0.2.200").status_code for n in range(21)]
    assert answers[:20] == [400] * 20 and answers[20] == 429
    assert token_attempt(client, "olga", "anything", ip="192.0.2.201").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/coordinator/login/", "/admin/login/"])
def test_the_sign_in_pages_lock_out_too(client, carol, path):
    answers = [
        client.post(path, {"username": "carol", "password": f"guess-{n}"}, REMOTE_ADDR="192.0.2.50").status_code
        for n in range(7)
    ]
    assert answers[:4] == [200] * 4  # the form again, with its error
    assert answers[-1] == 429
    response = client.post(path, {"username": "carol", "password": "guess"}, REMOTE_ADDR="192.0.2.50")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert b"Too many failed sign-in attempts" in response.content


@pytest.mark.django_db
def test_a_token_expires_and_sign_out_revokes_it(settings, carol):
    carol.set_password("the-right-one-2026")
    carol.save()
    client = APIClient()
    issued = token_attempt(client, "carol", "the-right-one-2026")
    assert issued.status_code == 200
    key = issued.json()["token"]
    assert issued.json()["expires_at"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/roster/").status_code == 200

    # Signing in again replaces the token.
    again = token_attempt(APIClient(), "carol", "the-right-one-2026").json()["token"]
    assert again != key and client.get("/api/v1/roster/").status_code == 401

    client.credentials(HTTP_AUTHORIZATION=f"Token {again}")
    Token.objects.filter(key=again).update(created=Token.objects.get(key=again).created - timedelta(
        hours=settings.API_TOKEN_TTL_HOURS, minutes=1))
    expired = client.get("/api/v1/roster/")
    assert expired.status_code == 401 and not Token.objects.filter(key=again).exists()

    fresh = token_attempt(APIClient(), "carol", "the-right-one-2026").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
    assert client.post("/api/v1/auth/token/revoke/").status_code == 204
    assert client.get("/api/v1/roster/").status_code == 401
    assert not Token.objects.filter(user=carol).exists()


@pytest.mark.django_db
def test_an_administrator_lists_and_revokes_tokens(client, carol, django_user_model):
    operator = django_user_model.objects.create_superuser("operator", "ops@example.org", "operator-pass-2026")
    give_second_factor(operator)
    token = Token.objects.create(user=carol)
    client.force_login(operator)
    listing = client.get("/admin/authtoken/tokenproxy/")
    assert listing.status_code == 200 and b"carol" in listing.content
    # The admin names a token by its user; deleting it revokes it at once.
    response = client.post(f"/admin/authtoken/tokenproxy/{carol.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Token.objects.filter(key=token.key).exists()


# --- Sign-in links: a stranger cannot use up the patient's way in -------------------------------


def token_in(message) -> str:
    found = re.search(r"/signin/#([A-Za-z0-9_-]+)\s", message.get_content())
    assert found, message.get_content()
    return found.group(1)


@pytest.mark.django_db
def test_a_stranger_asking_for_links_cannot_keep_the_patient_out(
    pat, email_to_sink, django_capture_on_commit_callbacks
):
    def ask(ip):
        with django_capture_on_commit_callbacks(execute=True):
            return APIClient().post("/api/v1/auth/sign-in-link/", {"email": "pat@example.org"}, format="json",
                                    REMOTE_ADDR=ip)

    # A stranger, from three addresses, asks for pat's links: three emails reach pat's inbox.
    assert [ask(f"203.0.113.{n}").status_code for n in range(3)] == [202] * 3
    sent = wait_for_mail(email_to_sink, 3)
    assert len(sent) == 3
    # The hour's links are used up: the next request, pat's own, is answered the same and sends nothing…
    again = ask("198.51.100.5")
    assert again.status_code == 202 and again.json() == {"email": "pat@example.org", "expires_in_minutes": 15}
    time.sleep(0.3)
    assert len(email_to_sink.received()) == 3
    # …and 14 minutes later (nearly expired), asking keeps the newest link working another 15 minutes.
    newest = SignInLink.objects.filter(patient=pat).order_by("-created_at").first()
    SignInLink.objects.filter(patient=pat).update(
        created_at=F("created_at") - timedelta(minutes=14), expires_at=F("expires_at") - timedelta(minutes=14)
    )
    ask("198.51.100.5")
    newest.refresh_from_db()
    assert newest.expires_at > timezone.now() + timedelta(minutes=14)
    assert len(email_to_sink.received()) == 3
    # pat opens the newest email's link: she is in.
    redeemed = APIClient().post("/api/v1/auth/sign-in-link/redeem/", {"token": token_in(sent[-1])}, format="json",
                                **ORIGIN)
    assert redeemed.status_code == 200 and redeemed.json()["patient"]["id"] == pat.pk


@pytest.mark.django_db
def test_links_are_sent_again_once_the_hour_has_passed(pat, email_to_sink, django_capture_on_commit_callbacks):
    from_past = timezone.now() - timedelta(minutes=61)
    for _ in range(3):
        services.sign_in_link_send(email="pat@example.org", now=from_past)
    with django_capture_on_commit_callbacks(execute=True):
        services.sign_in_link_send(email="pat@example.org")
    assert len(wait_for_mail(email_to_sink, 1)) == 1
    # The hour's old, expired links are removed as the new one is made.
    assert SignInLink.objects.filter(patient=pat).count() == 1


@pytest.mark.django_db
def test_tries_during_a_lockout_do_not_make_it_longer(carol):
    client = APIClient()
    for n in range(5):
        token_attempt(client, "carol", f"guess-{n}", ip="203.0.113.77")
    before = AccessAttempt.objects.get(username="carol", ip_address="203.0.113.77")
    for n in range(3):
        assert token_attempt(client, "carol", f"again-{n}", ip="203.0.113.77").status_code == 429
    after = AccessAttempt.objects.get(username="carol", ip_address="203.0.113.77")
    assert (after.failures_since_start, after.attempt_time) == (before.failures_since_start, before.attempt_time)
