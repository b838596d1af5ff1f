"""Limits on what a request may carry, answered in the API's own error shape instead of a 500 or an HTML page.

- A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 before anything reads it.
- JSON nested deeper than JSON_MAX_DEPTH is refused with 400: Python's parser would otherwise
  recurse until it raised RecursionError (a 500) on a body of a few kilobytes.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BodySizeLimitMiddleware:
    """413 for a declared body over the limit: JSON under /api/, plain text elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            message = f"The request body is too large: at most {limit} bytes are accepted."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": [message]}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def nesting_depth(value, limit: int) -> int:
    """How deep lists and objects nest in a parsed JSON value (stops counting past `limit`)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than JSON_MAX_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_DEPTH
        raw = stream.read() if stream is not None else b""
        # Every nesting level opens with a bracket: a body with fewer brackets than the limit
        # cannot be too deep, so the common case skips the count below.
        if raw.count(b"[") + raw.count(b"{") > limit:
            depth = bracket_depth(raw)
            if depth > limit:
                raise ParseError(f"JSON nested {depth} levels deep; at most {limit} levels are accepted.")
        try:
            data = json.loads(raw.decode(self._encoding(parser_context)))
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if nesting_depth(data, limit) > limit:
            raise ParseError(f"JSON nested more than {limit} levels deep.")
        return data

    @staticmethod
    def _encoding(parser_context) -> str:
        return (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)


def bracket_depth(raw: bytes) -> int:
    """The deepest bracket nesting in a JSON text, skipping brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest
