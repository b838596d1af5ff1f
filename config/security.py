"""What production refuses to start without, and the security headers on every response.

The settings call the `production_*` checks when DEBUG is off: a deployment that forgets a
secret, or copies one from the repository, stops at start-up with a message naming the
setting, instead of running with a development value.

`SecurityHeadersMiddleware` adds what Django 5.2's SecurityMiddleware does not: a
Content-Security-Policy with a fresh nonce for each request (templates write
`nonce="{{ request.csp_nonce }}"` on the few inline elements they have), a Permissions-Policy,
and `Cache-Control: no-store` on the API (but for the patient's own reads that chose private
revalidation, see prepapp/conditional.py) and on any page that does not choose its own caching.
"""

import secrets
from functools import wraps
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from prepapp.conditional import PRIVATE_CACHE_ATTRIBUTE

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


# --- Response headers ------------------------------------------------------------------------

NONCE = "'nonce-{nonce}'"

# Nothing is loaded from another origin: the app, the coordinator pages, the admin and the API
# docs (drf-spectacular-sidecar) all serve their scripts and styles themselves. Inline scripts
# and <style> elements run only with this response's nonce; style="" attributes never do.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", NONCE],
    "style-src": ["'self'", NONCE],
    # data: for the small images that the admin's and Swagger UI's stylesheets embed.
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'"],
    "manifest-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

# Powerful features no page here uses, turned off for the pages and anything they might embed.
# Notifications and the Push API are not Permissions-Policy features: the patient app asks
# for them with the browser's own prompt, which this header does not affect.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "geolocation",
        "gyroscope", "hid", "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get",
        "screen-wake-lock", "serial", "usb", "xr-spatial-tracking",
    )
)

# Everything under it is a patient's or a clinic's data: never kept by the browser or a proxy,
# except the patient's own reads, which only their own browser may keep (and must revalidate).
API_PREFIX = "/api/v1/"


def content_security_policy(nonce: str, overrides: dict | None = None) -> str:
    directives = {**CONTENT_SECURITY_POLICY, **(overrides or {})}
    return "; ".join(
        " ".join([name, *(source.format(nonce=nonce) for source in sources)]) for name, sources in directives.items()
    )


def csp_override(directives: dict[str, list[str]]):
    """Replace some directives of the policy for one view, e.g. {"worker-src": ["'self'", "blob:"]}.

    Sources may use NONCE. Meant for pages of third-party code that need more than the
    app's own pages; everything not named keeps the strict value.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response.csp_overrides = directives
            return response

        return wrapper

    return decorator


class SecurityHeadersMiddleware:
    """Content-Security-Policy (with a per-request nonce), Permissions-Policy, and no-store caching.

    Placed after WhiteNoise, so static files (hashed names, cached for long) are served
    before this runs and keep their own headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            overrides = getattr(response, "csp_overrides", None)
            response["Content-Security-Policy"] = content_security_policy(request.csp_nonce, overrides)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith(API_PREFIX):
            # Except the patient's own reads that chose "private, no-cache" with an ETag
            # (prepapp/conditional.py): those their own browser may keep and revalidate.
            if not getattr(response, PRIVATE_CACHE_ATTRIBUTE, False):
                response["Cache-Control"] = "no-store"
        else:
            # A page that says nothing about caching may show someone's data: keep no copy.
            # The app's worker, manifest and translations set their own, shorter rules.
            response.setdefault("Cache-Control", "no-store")
        return response
