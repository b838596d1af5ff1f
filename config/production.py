"""What production refuses to start without: the settings call these checks when DEBUG is off.

A deployment that forgets a secret, or copies one from the repository, stops at start-up with
a message naming the setting, instead of running with a development value.
"""


from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


# Keys that are public, in this repository: they may sign sessions only while DEBUG is on.
# (bandit B105: these are the refused values, not secrets.)
DEVELOPMENT_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # nosec B105
EXAMPLE_SECRET_KEY = "change-me-to-a-long-random-string"  # nosec B105
# Django's own deploy check (security.W009) asks for the same.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
GENERATE_KEY_HINT = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"

# Email backends that accept a message and deliver nothing: a reminder "sent" through one is lost.
UNDELIVERING_EMAIL_SCHEMES = {"consolemail", "filemail", "memorymail", "dummymail"}


def production_secret_key(value: str) -> str:
    """The SECRET_KEY, if it is fit to sign production sessions; else ImproperlyConfigured."""
    if not value:
        problem = "SECRET_KEY is not set"
    elif value == DEVELOPMENT_SECRET_KEY:
        problem = "SECRET_KEY is the development key from config/settings.py"
    elif value == EXAMPLE_SECRET_KEY:
        problem = "SECRET_KEY is the example value from .env.example"
    elif value.startswith("django-insecure-"):
        problem = "SECRET_KEY is a key Django generated for development ('django-insecure-…')"
    elif len(value) < SECRET_KEY_MIN_LENGTH:
        problem = f"SECRET_KEY is {len(value)} characters long; it needs at least {SECRET_KEY_MIN_LENGTH}"
    elif len(set(value)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        problem = f"SECRET_KEY has fewer than {SECRET_KEY_MIN_UNIQUE_CHARACTERS} different characters"
    else:
        return value
    raise ImproperlyConfigured(f"{problem}. With DEBUG=false the service refuses to start. {GENERATE_KEY_HINT}")


def production_allowed_hosts(hosts: list[str]) -> list[str]:
    if not [host for host in hosts if host.strip()]:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set: with DEBUG=false list the host names the service answers to, "
            "e.g. ALLOWED_HOSTS=prep.example.org"
        )
    return hosts


def production_site_url(value: str, *, allow_http: bool) -> str:
    """SITE_URL, the address put in emails and push messages: absolute, and https unless allowed."""
    parts = urlsplit(value)
    if not value:
        problem = "SITE_URL is not set: it is the public address used in links in emails and push messages"
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problem = f"SITE_URL must be an absolute address such as https://prep.example.org, not {value!r}"
    elif parts.scheme == "http" and not allow_http:
        problem = (
            f"SITE_URL must use https (it is {value!r}); set SITE_URL_ALLOW_HTTP=true only where links "
            "over plain http are intended"
        )
    else:
        return value.rstrip("/")
    raise ImproperlyConfigured(f"{problem}. With DEBUG=false the service refuses to start.")


def production_email_url(value: str) -> str:
    """EMAIL_URL, if it names a backend that really delivers mail."""
    scheme = urlsplit(value).scheme
    if not value:
        problem = (
            "EMAIL_URL is not set: reminders go out by email, "
            "e.g. EMAIL_URL=smtp+tls://user:password@mail.example.org:587"
        )
    elif scheme in UNDELIVERING_EMAIL_SCHEMES:
        problem = f"EMAIL_URL uses {scheme}://, which delivers nothing; use smtp://, smtp+tls:// or smtps://"
    else:
        return value
    raise ImproperlyConfigured(f"{problem}. With DEBUG=false the service refuses to start.")


