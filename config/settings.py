"""Settings for the pre-operative preparation service.

One module, every knob an environment variable (see `.env.example`). Without any
environment the settings are production's and fail closed: DEBUG is off, so a real
SECRET_KEY, ALLOWED_HOSTS, EMAIL_URL and SITE_URL are required and https is enforced.
DEBUG=true (what `make run` and the test suite set) gives local development: SQLite,
a filesystem broker under `var/`, emails printed to the console.

It is longer than the project's other modules on purpose: one file an operator reads top to
bottom to know every setting, rather than settings spread over several.
"""

from datetime import time, timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.production import (
    DEVELOPMENT_SECRET_KEY,
    production_allowed_hosts,
    production_email_url,
    production_secret_key,
    production_site_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Variables already in the environment win over the file. ENV_FILE points elsewhere (an
# empty file, e.g. /dev/null, to read none).
env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

# Off unless set: a process started with no environment gets production's rules.
DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
    SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
else:
    # No defaults and no fallback: a production deployment that forgets these, or uses a
    # key published in this repository, stops here with a message naming the setting.
    SECRET_KEY = production_secret_key(env.str("SECRET_KEY", default=""))
    ALLOWED_HOSTS = production_allowed_hosts(env.list("ALLOWED_HOSTS", default=[]))
    SITE_URL = production_site_url(
        env.str("SITE_URL", default=""), allow_http=env.bool("SITE_URL_ALLOW_HTTP", default=False)
    )
# Earlier keys, while SECRET_KEY is rotated: what they signed or sealed (sessions, links, the FHIR
# sources' tokens) still opens until it is made again under the new key.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin, its autocomplete audited like every other read of a patient (prepapp.admin_audit).
    "prepapp.admin_apps.AuditedAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    # Staff's second factor: an authenticator app (TOTP) and single-use recovery codes (static).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Layers, bottom to top: the care records, the checklists, the reminder engine.
    "prepapp",
    "checklists",
    "prepapp.reminders",
    # Above the workflows: the FHIR connection (integration clients, the EHR's identifiers).
    "prepapp.fhir",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # JSON reads gzipped when the client accepts it (never answers to POSTs: see the module).
    "prepapp.lib.compression.JSONReadCompressionMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "prepapp.lib.security.SecurityHeadersMiddleware",
    # Before anything reads the body: an oversized one gets 413 (with the headers above).
    "prepapp.lib.request_limits.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session's sign-in passed a second factor.
    "django_otp.middleware.OTPMiddleware",
    # Right after authentication: ends sessions left unused too long or signed out everywhere.
    "prepapp.session_policy.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it turns a locked-out password sign-in into a 429 whatever the view.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: opening a PostgreSQL connection (TCP, authentication, a new server
# process) costs more than a whole patient read, so each web or worker process keeps its
# connection for up to this many seconds (0 closes it after every request). The health check
# replaces a connection that died while idle (a database restart) at the next request's first
# query instead of failing that request.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("DB_CONN_HEALTH_CHECKS", default=True))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DB_SERVER_SIDE_BINDING", default=False):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": env.int("DB_PREPARE_THRESHOLD", default=5)}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that looks at the connection's socket and asks the
    # server (a round trip) only when the server has said something since the last request.
    DATABASES["default"]["ENGINE"] = "prepapp.lib.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker and the web process share the file; wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Django's cached database sessions: the database is the record of who is signed in (a flushed
# or restarted Redis signs nobody out), the cache answers the read every signed-in request makes.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # WhiteNoise's hashed, compressed files, of the app's JS and CSS minified (frontend/storage.py).
        "BACKEND": env(
            "STATICFILES_STORAGE",
            default="frontend.storage.MinifiedCompressedManifestStorage",
        )
    },
}

# Staff sign in on the coordinator pages; patients sign in with their invitation code in the app.
LOGIN_URL = "coordinator:login"

REST_FRAMEWORK = {
    # The first class's scheme answers anonymous callers: 401 with `WWW-Authenticate: Token`
    # (session authentication has no such header, and DRF would answer 403 instead).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "prepapp.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # drf-spectacular's, documenting each endpoint's error responses (prepapp/lib/schema.py).
    "DEFAULT_SCHEMA_CLASS": "prepapp.lib.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "prepapp.lib.errors.exception_handler",
    # One error shape: {"field": ["…"]}, and every message about no single field under "detail".
    "NON_FIELD_ERRORS_KEY": "detail",
    "DEFAULT_THROTTLE_RATES": {
        "invitation": env("INVITATION_THROTTLE_RATE", default="20/min"),
        "sign_in_link": env("SIGN_IN_LINK_THROTTLE_RATE", default="5/hour"),
    },
}

# --- Patient sign-in and sessions --------------------------------------------
# An invitation code signs in once, within this many days of being issued.
INVITATION_CODE_TTL_DAYS = env.int("INVITATION_CODE_TTL_DAYS", default=14)
# A sign-in link emailed to a patient signs in once, within this many minutes.
SIGN_IN_LINK_TTL_MINUTES = env.int("SIGN_IN_LINK_TTL_MINUTES", default=15)
# The care team may email a patient a fresh invitation at most this often per hour.
INVITATION_EMAILS_PER_HOUR = env.int("INVITATION_EMAILS_PER_HOUR", default=3)
# Sign-in links emailed to one patient per hour, however many ask. Past it the request is
# answered as usual, nothing new is sent, and the newest link already sent keeps working.
SIGN_IN_LINK_EMAILS_PER_HOUR = env.int("SIGN_IN_LINK_EMAILS_PER_HOUR", default=3)
# Sessions end after this long unused (prepapp/session_policy.py): staff soon, patients on
# their own phone much later. Each request moves the window on.
STAFF_SESSION_IDLE_MINUTES = env.int("STAFF_SESSION_IDLE_MINUTES", default=30)
PATIENT_SESSION_IDLE_DAYS = env.int("PATIENT_SESSION_IDLE_DAYS", default=30)

SPECTACULAR_SETTINGS = {
    "TITLE": "Pre-operative preparation API",
    "DESCRIPTION": (
        "Surgery cases, preparation checklists and reminders for patients and care coordinators.\n\n"
        "**Signing in.** Browsers use the session (and send the CSRF token with every write); API "
        "clients send `Authorization: Token …` (POST /api/v1/auth/token/). A request without either "
        "gets 401 with `WWW-Authenticate: Token`.\n\n"
        "**Errors.** Every 4xx body is an `Error`: each refused field's messages under its name, every "
        'other message under `detail`, always as lists: `{"surgery_date": ["…"]}`, `{"detail": ["Not found."]}`.\n\n'
        "**Dates and times.** Dates are calendar dates where the patient lives; times of day "
        "(reminder time, quiet hours, surgery time) are wall-clock times there, HH:MM[:SS] without "
        "a UTC offset; instants (`…_at`) are ISO 8601 with their offset."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Operation ids and tags leave out the version: `cases_list`, not `v1_cases_list`.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Separate request components (PatientRequest, PatchedPatientProfileRequest…) for typed clients.
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "SurgeryCaseStatusEnum": "prepapp.models.SurgeryCase.Status",
        "PatientStatusEnum": "prepapp.models.Patient.Status",
        "TaskStatusEnum": "checklists.models.Task.Status",
        "ReminderStatusEnum": "prepapp.reminders.models.Reminder.Status",
        "MePatientKindEnum": ["patient"],
        "MeStaffKindEnum": ["staff", "other"],
        "TargetSpecKindEnum": ["per_kg_range", "fixed"],
        "PatientFactEnum": "prepapp.facts.FACT_NAMES",
        "HealthCheckAnswerEnum": ["yes", "no", "not_sure"],
        "CheckInUrgencyEnum": ["emergency", "call_today", "none"],
        "WarningSignUrgencyEnum": ["emergency", "call_today", "before_surgery"],
    },
    "TAGS": [
        {"name": "auth", "description": "Signing in and out: patients with their invitation code, staff for a token."},
        {"name": "patients", "description": "Staff: the organization's patients."},
        {"name": "cases", "description": "Staff: surgeries, moving and cancelling them, assigning their checklist."},
        {"name": "protocols", "description": "Staff: the preparation protocols and their versions."},
        {"name": "roster", "description": "Staff: who is falling behind, one row per patient."},
        {"name": "deliveries", "description": "Staff: a patient's reminder delivery log."},
        {"name": "alerts", "description": "Staff: critical steps overdue too long, and acknowledging them."},
        {"name": "me", "description": "Who is signed in; for a patient: profile, surgery, checklist, steps, calendar."},
        {"name": "inbox", "description": "The signed-in patient's in-app reminders."},
        {"name": "push", "description": "The signed-in patient's Web Push subscriptions."},
        {"name": "fhir", "description": "FHIR R4 under /fhir/R4/ (application/fhir+json): the hospital's schedule in "
                                       "(integration clients), the patient's plan and the protocols out."},
        {"name": "following", "description": "A caregiver's: the patients they follow, their plans and safety cards."},
    ],
    # The docs' scripts are served from the package, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # `check --deploy` answers "is this deployment safe?"; the schema's own warnings are about
    # the API's documentation and are reported by `manage.py spectacular --validate --fail-on-warn`.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# --- Email -----------------------------------------------------------------
# Printed to the console while DEBUG is on; production must name a server that delivers.
_email_url = env.str("EMAIL_URL", default="consolemail://" if DEBUG else "")
vars().update(env.email_url_config(_email_url if DEBUG else production_email_url(_email_url)))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Surgery preparation <noreply@localhost>")
# Without a timeout a stalled SMTP server would hold a delivery task until its hard time limit.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Web Push ----------------------------------------------------------------
# Generate a key pair with `python manage.py generate_vapid_keys`. Without keys the
# push channel reports itself unavailable and reminders fall back to email.
VAPID_PUBLIC_KEY = env("VAPID_PUBLIC_KEY", default="")
VAPID_PRIVATE_KEY = env("VAPID_PRIVATE_KEY", default="")
VAPID_SUBJECT = env("VAPID_SUBJECT", default="mailto:operations@localhost")
WEBPUSH_TIMEOUT_SECONDS = env.float("WEBPUSH_TIMEOUT_SECONDS", default=10.0)
# Browsers hand us their push service's URL; the server only posts to these hosts
# (a leading dot allows subdomains), over https unless WEBPUSH_ALLOW_HTTP (local test stand-ins).
WEBPUSH_ENDPOINT_HOSTS = env.list(
    "WEBPUSH_ENDPOINT_HOSTS",
    default=[".googleapis.com", ".mozilla.com", ".push.apple.com", ".notify.windows.com"],
)
WEBPUSH_ALLOW_HTTP = env.bool("WEBPUSH_ALLOW_HTTP", default=False)

# --- Reminders -------------------------------------------------------------
# Reminders per delivery task. Email and push send one message at a time over the network, so
# their batches stay small (they spread over the workers, and a crash while sending leaves
# less in doubt); the inbox writes each batch in a few statements, so bigger batches pay the
# per-batch costs (the task, the locks, the commit) less often.
REMINDER_BATCH_SIZE = env.int("REMINDER_BATCH_SIZE", default=200)
REMINDER_INAPP_BATCH_SIZE = env.int("REMINDER_INAPP_BATCH_SIZE", default=1000)
REMINDER_SWEEP_SECONDS = env.float("REMINDER_SWEEP_SECONDS", default=30.0)
# A claim's lease. A worker sending a batch renews it every third of this (a heartbeat), so
# only a claim that no running batch holds runs out: a batch whose worker died goes back to
# pending, one whose "deliver these ids" message was lost is queued again. With the sweep
# interval, this bounds how long a fault can hold a reminder back.
REMINDER_LEASE_SECONDS = env.int("REMINDER_LEASE_SECONDS", default=30)
# Where each worker process notes what it handed to email or push before recording it in the
# database (an append-only file per process, fsync'ed before the record step, replayed when
# a worker starts, when a delivery task starts and before any lease is reclaimed). Keep it on
# the worker host's own disk, across restarts of the worker.
REMINDER_JOURNAL_DIR = Path(env.str("REMINDER_JOURNAL_DIR", default=str(VAR_DIR / "journal")))
# A reminder found this late is skipped rather than sent at an odd hour.
REMINDER_MAX_LATENESS_HOURS = env.int("REMINDER_MAX_LATENESS_HOURS", default=12)
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=5)
REMINDER_RETRY_BASE_SECONDS = env.int("REMINDER_RETRY_BASE_SECONDS", default=60)
# No retry waits longer than this (unless the far side asked for longer with Retry-After).
# Rows that failed because the channel was down are retried at once when a send on the same
# channel succeeds again, so this only bounds the wait for the first send after an outage.
REMINDER_RETRY_MAX_SECONDS = env.int("REMINDER_RETRY_MAX_SECONDS", default=300)
# Back-pressure: the sweeper stops claiming while this many rows are already in flight.
REMINDER_MAX_IN_FLIGHT = env.int("REMINDER_MAX_IN_FLIGHT", default=4000)
# A message's read-receipt link (email) and notification token count for this long.
RECEIPT_TOKEN_MAX_AGE_DAYS = env.int("RECEIPT_TOKEN_MAX_AGE_DAYS", default=30)
# Overdue critical steps: how often beat looks for them, and the hour (organization's clock)
# from which each coordinator gets the day's one email of open alerts.
ALERT_CHECK_SECONDS = env.float("ALERT_CHECK_SECONDS", default=600.0)
ALERT_EMAIL_HOUR = env.int("ALERT_EMAIL_HOUR", default=8)
# The safety net's own reminders (the evening before surgery, check-in days, the rules said
# again): how often beat plans today's and tomorrow's, and the evening hour, where the patient
# lives, of the one the day before surgery.
SAFETY_REMINDER_PLAN_SECONDS = env.float("SAFETY_REMINDER_PLAN_SECONDS", default=600.0)
DAY_BEFORE_REMINDER_TIME = env("DAY_BEFORE_REMINDER_TIME", default="18:00")
try:
    time.fromisoformat(DAY_BEFORE_REMINDER_TIME)
except ValueError:
    raise ImproperlyConfigured(f"DAY_BEFORE_REMINDER_TIME must be a time like 18:00, not {DAY_BEFORE_REMINDER_TIME!r}.")

# --- FHIR pull mode ---------------------------------------------------------
# How often beat polls each enabled FHIR source (admin: FHIR sources) for changed surgeries.
FHIR_PULL_SECONDS = env.float("FHIR_PULL_SECONDS", default=300.0)
# Each request to the hospital's server; a poll of several pages makes several.
FHIR_PULL_TIMEOUT_SECONDS = env.float("FHIR_PULL_TIMEOUT_SECONDS", default=30.0)
FHIR_PULL_PAGE_SIZE = env.int("FHIR_PULL_PAGE_SIZE", default=100)
# A server whose next links go on past this many pages in one poll is answered as an error.
FHIR_PULL_MAX_PAGES = env.int("FHIR_PULL_MAX_PAGES", default=200)
# The poll asks for what changed since a little before the watermark: a change stamped just
# before it but committed after is read again (which changes nothing) rather than missed.
FHIR_PULL_OVERLAP_SECONDS = env.int("FHIR_PULL_OVERLAP_SECONDS", default=60)
# How long one poll may run (its task's soft time limit; the hard one is a minute later). A first
# poll books every future surgery through the workflows, about 60 ms each (docs/fhir.md): a
# hospital with 10,000 ahead needs about 10 minutes once, later polls only what changed.
FHIR_PULL_TASK_SECONDS = env.int("FHIR_PULL_TASK_SECONDS", default=900)
# How long a poll holds its source: longer than its task may run, so a worker that died lets go.
FHIR_PULL_LEASE_SECONDS = env.int("FHIR_PULL_LEASE_SECONDS", default=FHIR_PULL_TASK_SECONDS + 120)
if FHIR_PULL_LEASE_SECONDS <= FHIR_PULL_TASK_SECONDS + 60:
    raise ImproperlyConfigured("FHIR_PULL_LEASE_SECONDS must be longer than FHIR_PULL_TASK_SECONDS plus a minute.")
# A source's address must be https (the bearer token travels with each request) unless this is set.
FHIR_PULL_ALLOW_HTTP = env.bool("FHIR_PULL_ALLOW_HTTP", default=False)

# --- Celery ------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # Embedded broker for a machine without Redis: kombu's filesystem transport.
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Its exchange table (kombu writes it to ./control unless told): nothing outside var/.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Several deployments (or test runs) can share one Redis by using their own queue.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# A worker killed mid-task leaves the message unacknowledged so another worker takes it;
# delivery records its outcome in the database, so a redelivered message sends nothing twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# When the worker loses the broker, a running acks_late task can no longer be acknowledged
# and its message may come back. Let it finish: cancelling it would kill a batch in the
# middle of sending, and the message it was sending when killed could go out twice. The
# redelivered copy is harmless: the batch's rows carry the running task's token, so the copy
# takes nothing. (Celery 6 will make True the default; set explicitly, it stays False. Celery
# notes that at each loss of the broker connection, never at start.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "sweep-due-reminders": {
        "task": "prepapp.tasks.sweep_due_reminders",
        "schedule": REMINDER_SWEEP_SECONDS,
    },
    "escalate-overdue-critical-steps": {
        "task": "prepapp.tasks.escalate_overdue_steps",
        "schedule": ALERT_CHECK_SECONDS,
    },
    "plan-safety-reminders": {
        "task": "prepapp.tasks.plan_safety_reminders",
        "schedule": SAFETY_REMINDER_PLAN_SECONDS,
    },
    "poll-fhir-sources": {
        "task": "prepapp.tasks.poll_fhir_sources",
        "schedule": FHIR_PULL_SECONDS,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- HTTPS, cookies and headers --------------------------------------------
# How many reverse proxies (load balancer, nginx…) stand in front of the app. Only when there
# is one are X-Forwarded-* headers believed: without a proxy that sets them, any client could
# claim https. The same number says which X-Forwarded-For entry is the client's own address
# (the TRUSTED_PROXY_COUNT-th from the right; the ones before it are the client's to forge),
# for throttling by client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT cannot be negative.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None

# In production every request is https: plain http is redirected, and browsers are told
# (HSTS) to use nothing else for a year. Behind a TLS-terminating proxy, set TRUSTED_PROXY_COUNT.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The health check is asked over plain http from inside the container or by the load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is hard to undo (months to leave the browsers' lists): an explicit decision only.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# The patient app and the coordinator pages read the token from the csrftoken cookie
# (document.cookie) and send it back in X-CSRFToken, so that cookie stays readable by scripts.
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy and Permissions-Policy: prepapp/lib/security.py (SecurityHeadersMiddleware).

# --- Sign-in limits and API tokens --------------------------------------------
# Counters live in this cache, shared by every web process: Redis when configured, otherwise
# a folder under var/ that the processes of `make run` share.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="prep")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update({
    # Per client address: password sign-in attempts (API token, coordinator pages, admin together).
    "token": env("TOKEN_THROTTLE_RATE", default="20/min"),
    # Wrong invitation codes from every address together, counting only what the per-address
    # limit let through. Past it the service is on guard: an address that already sent
    # INVITATION_GUARDED_ADDRESS_RATE wrong codes waits, any other still has its code checked
    # (prepapp/lib/throttling.py, docs/security.md).
    "invitation_all": env("INVITATION_GLOBAL_THROTTLE_RATE", default="300/hour"),
    "invitation_guarded": env("INVITATION_GUARDED_ADDRESS_RATE", default="3/hour"),
    # Read receipts posted by the service worker (signed tokens; the limit only stops floods).
    "receipt": env("RECEIPT_THROTTLE_RATE", default="120/min"),
    # FHIR requests per integration client (or member of staff): an interface engine's schedule
    # and an EHR's reads, with room to spare; a runaway loop is stopped.
    "fhir": env("FHIR_THROTTLE_RATE", default="600/min"),
    # Calendar feeds, per client address: a phone fetches every few hours; the limit slows guessing.
    "calendar_feed": env("CALENDAR_FEED_THROTTLE_RATE", default="30/min"),
})
# DRF's own address logic, should any throttle use it, believes the same proxies.
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT

# Password sign-in (API token, coordinator pages, admin): django-axes counts failures per
# account and address together in the database (the admin lists them under "Axes") and locks
# that pair out for a while after too many. A stranger's wrong passwords lock out only the
# stranger's own address: the right password from any other address still signs in. The
# account's owner is emailed once per lockout window when it sees that many failures from
# anywhere (prepapp/sign_in_alerts.py); an address trying many accounts meets the per-address
# limit above ("token").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Patients' sessions: restores the user with the patient record in one query; checks no password.
    "prepapp.authentication.SessionUserBackend",
]
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGN_IN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A try during the lockout does not start it again: the lockout ends COOLOFF after it began.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "prepapp.audit.client_ip"
AXES_LOCKOUT_CALLABLE = "prepapp.lib.throttling.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
# The second factor (django-otp): clinical leads and operators always, coordinators when their
# organization asks for it (Organization.staff_second_factor_required). After the password
# the sign-in waits this many minutes for the code; the authenticator app's name for the account.
SECOND_FACTOR_PENDING_MINUTES = env.int("SECOND_FACTOR_PENDING_MINUTES", default=5)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Surgery preparation")
# Staff API tokens end after this many hours; signing out (or in again) revokes one at once.
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=12)

# --- Request limits -------------------------------------------------------------
# Bodies above this many bytes are refused with 413; JSON nested deeper than JSON_MAX_DEPTH with 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "prepapp.lib.request_limits.DepthLimitedJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]

