"""Settings for the web server the API benchmark starts: production's (DEBUG off), on the scratch
database, with one extra URL, the floor (a view that returns the checklist's bytes and does nothing else)."""

from config.settings import *  # noqa: F401,F403
from config.settings import DATABASES, env

DATABASES["default"]["NAME"] = env("BENCH_DB_NAME", default="bench_api")
ROOT_URLCONF = "bench.urls"
