"""JSON reads compressed on the wire, without giving BREACH a secret to find.

BREACH recovers a secret from the size of compressed responses that carry both the secret and
text an attacker chose. The reads compressed here (GET and HEAD answers in JSON: checklists,
rosters, messages) carry the caller's own records and no credential: tokens, codes and links
are answered to POSTs (sign-in, invitation codes, API tokens), which are never compressed, and
HTML pages (forms with CSRF tokens, the second factor's set-up) are left alone too. A JSON read
that ever does carry a secret says so with `carries_secret(response)` and goes out as it is.

Django's GZipMiddleware does the work, including its own BREACH mitigation (random bytes in the
gzip header, "Heal the Breach"), the `Vary: Accept-Encoding` header and weak ETags.
"""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware

# The attribute `carries_secret` sets on a response (its name is no password: bandit asks).
UNCOMPRESSED_ATTRIBUTE = "keep_uncompressed"
COMPRESSED_TYPES = ("application/json", "application/fhir+json", "application/problem+json")


def carries_secret(response):
    """Mark a response as one that must never be compressed (it carries a credential)."""
    setattr(response, UNCOMPRESSED_ATTRIBUTE, True)
    return response


class JSONReadCompressionMiddleware(GZipMiddleware):
    """GZipMiddleware for JSON reads only (see the module's docstring for why only these)."""

    def process_response(self, request, response):
        if request.method not in ("GET", "HEAD") or getattr(response, UNCOMPRESSED_ATTRIBUTE, False):
            return response
        if response.get("Content-Type", "").split(";")[0].strip() not in COMPRESSED_TYPES:
            return response
        return super().process_response(request, response)
