"""Production fails closed, and every response carries the security headers.

The settings cases each start a fresh Python process with a clean environment: only
DJANGO_SETTINGS_MODULE, what the case sets, and ENV_FILE=/dev/null so that a developer's
.env cannot leak in (nor this run's DEBUG=true, which pytest-env sets for the suite).
The header cases use the Django test client against this run's (development) settings; the
middleware behaves the same with DEBUG on or off.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.production import DEVELOPMENT_SECRET_KEY, EXAMPLE_SECRET_KEY

ROOT = Path(__file__).resolve().parents[1]

# What a production deployment sets. The database and Redis are named (and never contacted)
# so that the settings do not fall back to SQLite and a filesystem broker under var/.
PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "prep.example.org",
    "SITE_URL": "https://prep.example.org",
    "EMAIL_URL": "smtp+tls://mailer:password@mail.example.org:587",
    "DATABASE_URL": "postgres://prep@127.0.0.1:5432/prep",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}

PRINT_SETTINGS = """
import json, sys
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in sys.argv[1:]}, default=str))
"""


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {"DJANGO_SETTINGS_MODULE": "config.settings", "ENV_FILE": os.devnull, **env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False
    )


def settings_under(env: dict[str, str], *names: str) -> dict:
    result = run_python(["-c", PRINT_SETTINGS, *names], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def refusal_under(env: dict[str, str]) -> str:
    """The message a process that loads the settings stops with."""
    result = run_python(["-c", PRINT_SETTINGS, "DEBUG"], env)
    assert result.returncode != 0, f"started, with {result.stdout}"
    last_line = result.stderr.strip().splitlines()[-1]
    prefix = "django.core.exceptions.ImproperlyConfigured: "
    assert last_line.startswith(prefix), result.stderr
    return last_line.removeprefix(prefix)


def without(name: str) -> dict[str, str]:
    return {key: value for key, value in PRODUCTION.items() if key != name}


# --- Start-up ---------------------------------------------------------------------------------


def test_with_no_environment_debug_is_off_and_start_up_fails_for_want_of_a_secret_key():
    message = refusal_under({})
    assert message.startswith("SECRET_KEY is not set. With DEBUG=false the service refuses to start.")
    assert "secrets.token_urlsafe" in message  # says how to make one


@pytest.mark.parametrize(
    "key, problem",
    [
        (EXAMPLE_SECRET_KEY, "SECRET_KEY is the example value from .env.example"),
        (DEVELOPMENT_SECRET_KEY, "SECRET_KEY is the development key"),
        (secrets.token_urlsafe(30), "SECRET_KEY is 40 characters long; it needs at least 50"),
        ("abcd" * 20, "SECRET_KEY has fewer than 5 different characters"),
        ("django-insecure-" + secrets.token_urlsafe(48), "SECRET_KEY is a key Django generated for development"),
    ],
    ids=["example key", "development key", "short key", "few characters", "django-insecure key"],
)
def test_a_published_or_weak_secret_key_is_refused(key, problem):
    message = refusal_under({**PRODUCTION, "SECRET_KEY": key})
    assert message.startswith(problem)
    assert key not in message  # a refused key is not echoed into the logs


@pytest.mark.parametrize(
    "env, problem",
    [
        (without("EMAIL_URL"), "EMAIL_URL is not set"),
        ({**PRODUCTION, "EMAIL_URL": "consolemail://"}, "EMAIL_URL uses consolemail://, which delivers nothing"),
        (without("SITE_URL"), "SITE_URL is not set"),
        ({**PRODUCTION, "SITE_URL": "http://prep.example.org"}, "SITE_URL must use https"),
        ({**PRODUCTION, "SITE_URL": "prep.example.org"}, "SITE_URL must be an absolute address"),
        (without("ALLOWED_HOSTS"), "ALLOWED_HOSTS is not set"),
    ],
    ids=["no EMAIL_URL", "console email", "no SITE_URL", "http SITE_URL", "relative SITE_URL", "no ALLOWED_HOSTS"],
)
def test_production_refuses_to_start_without_a_mail_server_a_public_address_or_host_names(env, problem):
    assert refusal_under(env).startswith(problem)


def test_a_production_environment_starts_with_https_enforced():
    values = settings_under(
        PRODUCTION,
        "DEBUG", "SITE_URL", "EMAIL_BACKEND", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY", "SECURE_REFERRER_POLICY", "SECURE_PROXY_SSL_HEADER",
    )
    assert values == {
        "DEBUG": False,
        "SITE_URL": "https://prep.example.org",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        # The apps read the CSRF token from the cookie to send it in X-CSRFToken.
        "CSRF_COOKIE_HTTPONLY": False,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_http_links_need_an_explicit_allowance():
    env = {**PRODUCTION, "SITE_URL": "http://prep.internal/", "SITE_URL_ALLOW_HTTP": "true"}
    assert settings_under(env, "SITE_URL") == {"SITE_URL": "http://prep.internal"}


def test_development_needs_no_secret():
    """What `make run` gets: DEBUG=true, and no key, mail server or address of its own."""
    env = {"DEBUG": "true", "REDIS_URL": PRODUCTION["REDIS_URL"]}  # no broker folder made under var/
    values = settings_under(env, "SECRET_KEY", "EMAIL_BACKEND", "SECURE_SSL_REDIRECT", "SITE_URL")
    assert values == {
        "SECRET_KEY": DEVELOPMENT_SECRET_KEY,
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "SECURE_SSL_REDIRECT": False,
        "SITE_URL": "http://127.0.0.1:8000",
    }


def test_the_proxy_header_is_trusted_only_with_a_proxy_count():
    assert settings_under(PRODUCTION, "SECURE_PROXY_SSL_HEADER", "TRUSTED_PROXY_COUNT") == {
        "SECURE_PROXY_SSL_HEADER": None,
        "TRUSTED_PROXY_COUNT": 0,
    }
    assert settings_under({**PRODUCTION, "TRUSTED_PROXY_COUNT": "1"}, "SECURE_PROXY_SSL_HEADER") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    # This run has no proxy in front either.
    assert settings.SECURE_PROXY_SSL_HEADER is None


def test_the_deploy_checks_pass_in_production():
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Headers -------------------------------------------------------------------------------------


def csp_nonce(response) -> str:
    policy = response["Content-Security-Policy"]
    match = re.search(r"script-src 'self' 'nonce-([\w-]+)'", policy)
    assert match, policy
    return match.group(1)


@pytest.mark.django_db
def test_the_patient_shell_has_a_strict_policy_with_a_fresh_nonce_on_its_import_map(client):
    first, second = client.get("/"), client.get("/settings/")
    policy = first["Content-Security-Policy"]
    for directive in (
        "default-src 'self'", "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'",
        "form-action 'self'", "img-src 'self' data:", "connect-src 'self'", "worker-src 'self'",
        "manifest-src 'self'",
    ):
        assert directive in policy.split("; ")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert csp_nonce(first) != csp_nonce(second)
    for response in (first, second):
        assert f'<script type="importmap" nonce="{csp_nonce(response)}">' in response.content.decode()
        # The shell is never kept by the browser's HTTP cache or a proxy.
        assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/coordinator/login/", "/api/v1/me/", "/healthz", "/no-such-page/"):
        response = client.get(path)
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
        assert "notifications" not in response["Permissions-Policy"]  # not a policy feature: push still works
        assert response["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self' 'nonce-")
        assert response["X-Frame-Options"] == "DENY", path


@pytest.mark.django_db
def test_api_responses_are_never_stored_but_the_patients_own_reads_only_privately(client, pat_checklist, carol):
    assert client.get("/api/v1/me/")["Cache-Control"] == "no-store"  # refused: still not stored
    client.force_login(pat_checklist.case.patient.user)
    # The patient's own reads: kept by their own browser only, and revalidated before each use.
    for path in ("/api/v1/me/", "/api/v1/me/case/", "/api/v1/me/checklist/", "/api/v1/me/inbox/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "private, no-cache", path
        assert response["ETag"], path
    # Everything else stays out of every cache: the patient's other answers and staff reads.
    for path in ("/api/v1/me/inbox/unread-count/", "/api/v1/me/access-log/"):
        assert client.get(path)["Cache-Control"] == "no-store", path
    assert client.patch("/api/v1/me/", {"language": "es"}, content_type="application/json")["Cache-Control"] == (
        "no-store"
    )
    client.force_login(carol)
    patient = pat_checklist.case.patient
    for path in ("/api/v1/patients/", f"/api/v1/patients/{patient.pk}/", "/api/v1/cases/",
                 f"/api/v1/cases/{pat_checklist.case.pk}/checklist/", "/api/v1/roster/", "/api/v1/me/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "no-store", path
        assert "ETag" not in response, path


@pytest.mark.django_db
def test_pages_that_choose_their_caching_keep_it(client):
    assert client.get("/sw.js")["Cache-Control"] == "no-cache, max-age=0"
    assert client.get("/manifest.webmanifest")["Cache-Control"] == "no-cache"


def test_static_files_are_answered_before_the_headers_middleware():
    """WhiteNoise serves static files (hashed names, cached for a year) before no-store is added."""
    middleware = settings.MIDDLEWARE
    assert middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") < middleware.index(
        "prepapp.lib.security.SecurityHeadersMiddleware"
    )


@pytest.mark.django_db
def test_the_api_docs_run_their_inline_code_by_nonce(client, lead_admin):
    client.force_login(lead_admin)
    swagger = client.get("/api/docs/")
    nonce = csp_nonce(swagger)
    html = swagger.content.decode()
    assert f'<script nonce="{nonce}">' in html and f'<style nonce="{nonce}">' in html
    assert "<script>" not in html and "<style>" not in html

    redoc = client.get("/api/redoc/")
    policy = redoc["Content-Security-Policy"].split("; ")
    # Redoc's bundle adds styles before it could be given a nonce, and searches in a blob: worker.
    assert "style-src 'self' 'unsafe-inline'" in policy and "worker-src 'self' blob:" in policy
    assert f"script-src 'self' 'nonce-{csp_nonce(redoc)}'" in policy
    assert f'<script nonce="{csp_nonce(redoc)}">' in redoc.content.decode()
    assert "fonts.googleapis.com" not in redoc.content.decode()


def test_production_keeps_its_database_connections_and_checks_them():
    databases = settings_under(PRODUCTION, "DATABASES")["DATABASES"]
    assert databases["default"]["CONN_MAX_AGE"] == 60
    assert databases["default"]["CONN_HEALTH_CHECKS"] is True
    closed = settings_under({**PRODUCTION, "DB_CONN_MAX_AGE": "0"}, "DATABASES")["DATABASES"]
    assert closed["default"]["CONN_MAX_AGE"] == 0
