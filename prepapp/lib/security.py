"""The security headers on every response.

`SecurityHeadersMiddleware` adds what Django 5.2's SecurityMiddleware does not: a
Content-Security-Policy with a fresh nonce for each request (templates write
`nonce="{{ request.csp_nonce }}"` on the few inline elements they have), a Permissions-Policy,
and `Cache-Control: no-store` on the API (but for the patient's own reads that chose private
revalidation, see prepapp/lib/conditional_get.py) and on any page that does not choose its own caching.
"""

import secrets
from functools import wraps

from prepapp.lib.conditional_get import PRIVATE_CACHE_ATTRIBUTE

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
            # (prepapp/lib/conditional_get.py): those their own browser may keep and revalidate.
            if not getattr(response, PRIVATE_CACHE_ATTRIBUTE, False):
                response["Cache-Control"] = "no-store"
        else:
            # A page that says nothing about caching may show someone's data: keep no copy.
            # The app's worker, manifest and translations set their own, shorter rules.
            response.setdefault("Cache-Control", "no-store")
        return response
