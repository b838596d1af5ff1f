"""Limits on guessing that hold: the real client address, a shared counter, lockouts per account and per address.

A security review sent 300 wrong invitation codes with a changing X-Forwarded-For (none were
refused) and 300 wrong passwords to each password sign-in (all answered normally). These
tests repeat those attacks against the shared cache (Redis) and the database the service uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.db.models import Sum
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from prepapp.lib.client_address import client_ip

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
def test_wrong_passwords_lock_the_account_out_whatever_the_address(carol):
    carol.set_password("the-right-one-2026")
    carol.save()
    client = APIClient()
    answers = [token_attempt(client, "carol", f"guess-{n}", ip=f"192.0.2.{n + 1}").status_code for n in range(8)]
    assert answers[:4] == [400] * 4 and set(answers[5:]) == {429}
    locked = token_attempt(client, "carol", "the-right-one-2026", ip="198.51.100.99")
    assert locked.status_code == 429  # even the right password, from a fresh address, until the lockout ends
    assert int(locked["Retry-After"]) == 15 * 60
    assert locked.json()["detail"][0].startswith("Too many failed sign-in attempts")
    # The administrator sees the lockout.
    failures = AccessAttempt.objects.filter(username="carol").aggregate(n=Sum("failures_since_start"))["n"]
    assert failures >= 5


@pytest.mark.django_db
def test_wrong_passwords_from_one_address_lock_that_address_out(carol, olga):
    client = APIClient()
    for n in range(5):
        token_attempt(client, f"someone-{n}", "guess", ip="192.0.2.200")
    assert token_attempt(client, "olga", "anything", ip="192.0.2.200").status_code == 429
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
    token = Token.objects.create(user=carol)
    client.force_login(operator)
    listing = client.get("/admin/authtoken/tokenproxy/")
    assert listing.status_code == 200 and b"carol" in listing.content
    # The admin names a token by its user; deleting it revokes it at once.
    response = client.post(f"/admin/authtoken/tokenproxy/{carol.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Token.objects.filter(key=token.key).exists()
