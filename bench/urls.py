"""The project's URLs plus the API benchmark's floor: the same body, with no authentication and no query."""

import os
from pathlib import Path

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

_bodies: dict[str, bytes] = {}


def _floor_view(variable: str):
    def floor(request):
        """What an answer costs without the work: the stored body of a real answer, as is."""
        if variable not in _bodies:
            _bodies[variable] = Path(os.environ[variable]).read_bytes()
        return HttpResponse(_bodies[variable], content_type="application/json")

    return floor


urlpatterns = [
    path("bench/floor/", _floor_view("BENCH_FLOOR_BODY")),  # the combined checklist's bytes
    path("bench/floor/state/", _floor_view("BENCH_FLOOR_STATE_BODY")),  # the checklist state's bytes
    *project_urlpatterns,
]
