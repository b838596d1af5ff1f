"""Settings for the benchmark: the project's, on a scratch database, with django-celery-beat added
for the comparison with one ClockedSchedule task per reminder."""

from config.settings import *  # noqa: F401,F403
from config.settings import DATABASES, INSTALLED_APPS, env

INSTALLED_APPS = [*INSTALLED_APPS, "django_celery_beat"]
# Never the test database or the operator's: a database the bench creates and drops itself.
DATABASES["default"]["NAME"] = env("BENCH_DB_NAME", default="bench_prepapp")
CELERY_IMPORTS = ["bench.tasks"]
if env.bool("BENCH_NO_SWEEPER", default=False):
    # The comparison run: django-celery-beat's scheduler alone decides what runs.
    CELERY_BEAT_SCHEDULE = {}
DJANGO_CELERY_BEAT_TZ_AWARE = True
# The worker and beat run as in production: with DEBUG on, every SQL statement would also be
# kept in memory and timed, a cost production never pays. (The development secrets and
# addresses of `make bench` stay: nothing here serves a page.)
DEBUG = False
