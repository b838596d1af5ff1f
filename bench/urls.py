"""The project's URLs plus the API benchmark's floor: the same body, with no authentication and no query."""

import os
from pathlib import Path

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

_body: bytes | None = None


def floor(request):
    """What the checklist answer costs without the work: the stored body of a real answer, as is."""
    global _body
    if _body is None:
        _body = Path(os.environ["BENCH_FLOOR_BODY"]).read_bytes()
    return HttpResponse(_body, content_type="application/json")


urlpatterns = [path("bench/floor/", floor), *project_urlpatterns]
