"""Conditional GET for the patient's own reads: validators (ETags) and their caching headers.

A phone refreshes the same few screens all day; when nothing changed, the answer is
`304 Not Modified` with no body, worked out from a few change stamps instead of the whole
payload. Each view builds its ETag from everything its body depends on (the patient, the
language, the patient's today, the rows' stamps, the payload's shape), so that any change
that alters the body alters the validator.

Caching: these answers are the patient's own data, sent to the patient's own browser over
https. They are marked `private, no-cache`: no shared cache or proxy may keep them, and the
browser must ask the server every time before using its copy (so nothing stale is shown),
which is what lets it send `If-None-Match` and get a 304. Every other API answer, staff
reads above all (shared computers at a clinic), stays `no-store` (prepapp/lib/security.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.http import HttpResponseNotModified
from django.utils.cache import parse_etags

PRIVATE_REVALIDATE = "private, no-cache"
# Set on a response that chose private revalidation: the security headers middleware, which
# turns every other API answer into no-store, leaves its Cache-Control alone.
PRIVATE_CACHE_ATTRIBUTE = "private_revalidate"


def make_etag(*parts) -> str:
    """A weak validator from the values a body is computed from (equal values, equal ETag)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f'W/"{digest}"'


def source_fingerprint(roots, *, suffixes: set[str]) -> str:
    """A digest of every file under these folders whose name ends in one of the suffixes (names and bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    for root in roots:
        root = Path(root)
        for path in sorted(p for p in root.rglob("*") if p.suffix in suffixes and p.is_file()):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def client_has(request, etag: str) -> bool:
    """Whether the request's If-None-Match names this ETag (weak comparison, as for GET)."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == wanted for tag in parse_etags(header))


def revalidate_privately(response, etag: str):
    """Mark an answer as the patient's own, to be kept only by their browser and revalidated each time."""
    response["ETag"] = etag
    response["Cache-Control"] = PRIVATE_REVALIDATE
    setattr(response, PRIVATE_CACHE_ATTRIBUTE, True)
    return response


def not_modified(etag: str):
    return revalidate_privately(HttpResponseNotModified(), etag)
