"""Rendered answers kept per process by their validator, and sent again without rendering.

An ETag made by prepapp.lib.conditional_get.make_etag names everything its body is computed from, so
two answers with the same ETag (and the same media type: JSON's `indent` parameter changes the
bytes) have the same body. A process keeps the bytes it rendered for the last few hundred
validators and answers a full read of an unchanged resource with them, without building or
rendering it again. Only a view whose validator truly covers its whole body may use this.
"""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from prepapp.lib.lru import LRU

# At most this many bodies per process (a checklist is about 35 KB: under 10 MB in all).
KEPT_BODIES = 256


_kept = LRU(KEPT_BODIES)


def kept_body_key(request, etag: str):
    """The key this answer's body is kept under, or None when its bytes are not to be kept.

    Only plain JSON is kept: the browsable API's page holds the CSRF token and the user's name.
    """
    renderer = request.accepted_renderer
    if not isinstance(renderer, JSONRenderer) or renderer.format != "json":
        return None
    return etag, request.accepted_media_type


def kept_body(key) -> tuple[bytes, str] | None:
    """The body and Content-Type rendered earlier under this key, if this process still has them."""
    return _kept.get(key) if key is not None else None


def forget_kept_bodies() -> None:
    _kept.clear()


class KeptBodyResponse(Response):
    """A DRF answer whose rendered bytes are kept under a key, or that sends bytes kept earlier.

    Built with the data (rendered as usual, then kept when `key` is not None) or with `kept`
    (the body and Content-Type of an earlier rendering under the same key: nothing is rendered).
    """

    def __init__(self, data=None, *, key, kept: tuple[bytes, str] | None = None, **kwargs):
        super().__init__(data, **kwargs)
        self.kept_key, self.kept = key, kept

    @property
    def rendered_content(self):
        if self.kept is None:
            body = super().rendered_content
            if self.kept_key is not None and self.status_code == 200:
                _kept.put(self.kept_key, (body, self["Content-Type"]))
            return body
        body, content_type = self.kept
        self["Content-Type"] = content_type
        return body
