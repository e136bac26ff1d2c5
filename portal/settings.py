"""PilotGate settings, read from the environment (see README, "Configuration").

Embedded default: SQLite and Celery tasks run eagerly in the web process, so a
fresh machine needs no server. ``DATABASE_URL`` switches to PostgreSQL,
``CELERY_BROKER_URL`` to a real broker and worker. ``DJANGO_DEBUG=false`` is
production: ``SECRET_KEY`` and ``ALLOWED_HOSTS`` then have no default.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", True)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-" + "x" * 32)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
else:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "portal",
    "pilots",
    "metrics",
    "costs",
    "reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Production keeps connections open: a new connection per request costs
        # more than half the throughput of a list endpoint (DESIGN.md).
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0 if DEBUG else 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the page poll a job while the import writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times are stored in UTC; pages display them in this zone.
DISPLAY_TIME_ZONE = env_str("DISPLAY_TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js is served from the installed plotly package: no CDN, and the
    # version always matches the Python library that builds the figures.
    ("plotly", Path(plotly.__file__).resolve().parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# Notifications (portal.notifications): Django's mail. Without EMAIL_HOST the
# embedded default writes mails to the console log.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "pilotgate@localhost")

# Import progress lives in the cache so every web process can read it while
# the job's transaction is still open. Use Redis when there is more than one
# process (production); local memory serves the embedded single process.
_CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
        if _CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Uploads: metric files are streamed to disk, never held in memory.
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 512 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Child processes that parse a big Prometheus text file while the import
# stores what they have parsed (metrics/parsers/textproc.py); 0 parses
# in the importing process. Default: 2 where this process may use 2 cores or
# more (each concurrent import starts its own).
_USABLE_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
METRICS_PARSER_PROCESSES = env_int(
    "METRICS_PARSER_PROCESSES", 2 if (_USABLE_CPUS or 1) >= 2 else 0, minimum=0
)
# The largest metrics file (and request body) accepted; IMPORT_MAX_UPLOAD_BYTES
# is its older name, still read. Requests announcing more are refused before
# any byte is read (portal/request_guards.py); put the same figure in the
# proxy (nginx client_max_body_size).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", IMPORT_MAX_UPLOAD_BYTES, minimum=1)
IMPORT_MAX_UPLOAD_BYTES = IMPORT_MAX_BYTES
# Anonymous requests may carry at most this much body (a login form).
ANONYMOUS_MAX_BODY_BYTES = env_int("ANONYMOUS_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
FILE_UPLOAD_HANDLERS = [
    "portal.request_guards.MaxBytesUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# An import refuses a file that would create more new series than this
# (a label that changes with every sample makes millions).
METRICS_MAX_NEW_SERIES_PER_IMPORT = env_int("METRICS_MAX_NEW_SERIES_PER_IMPORT", 10_000, minimum=1)
# A running import beats this often; a job whose beat is older than
# METRICS_IMPORT_STALE_SECONDS has lost its worker and is claimed again.
METRICS_IMPORT_HEARTBEAT_SECONDS = env_int("METRICS_IMPORT_HEARTBEAT_SECONDS", 10, minimum=1)
METRICS_IMPORT_STALE_SECONDS = env_int("METRICS_IMPORT_STALE_SECONDS", 60, minimum=2)

# Security. Production runs behind a TLS-terminating proxy.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the cookie-less meta tag
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.roles.HasAnyRole",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PilotGate API",
    "DESCRIPTION": "Pilots of AI inference hardware: phases, RACI, readiness, metrics.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI's default validator badge is an image from validator.swagger.io
    # that carries our schema URL: nothing may leave the host.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind" or "status": name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "BackendKindEnum": "pilots.models.Backend.Kind",
        "PhaseKindEnum": "pilots.models.Phase.Kind",
        "PilotStatusEnum": "pilots.models.Pilot.Status",
        "PhaseStatusEnum": "pilots.models.Phase.Status",
        "ImportFormatEnum": "metrics.models.ImportJob.Format",
        # Metrics import jobs and FOCUS bill imports share one status set.
        "ImportStatusEnum": "metrics.models.ImportStatus",
        "RiskLevelEnum": "pilots.models.RiskLevel",
        # Part criticality and red-flag severity share low/medium/high/critical.
        "SeverityEnum": "pilots.models.Criticality",
    },
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.roles.HasAnyRole",
    ],
}
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90, minimum=1)

# Celery. Without a broker, tasks run eagerly in the calling process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool(
    "CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL.startswith("memory://")
)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task: the task is redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3300, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Static entries; beat's database scheduler copies them into its tables,
# where admins see them beside the metric-source pulls.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-import-jobs": {
        # A job whose task message was lost (broker restart) is queued again.
        "task": "metrics.requeue_stale_import_jobs",
        # Also jobs created while the broker was down, and running jobs
        # whose heartbeat went stale (METRICS_IMPORT_STALE_SECONDS).
        "schedule": 120.0,
    },
    "requeue-stale-bill-imports": {
        # The same for FOCUS bill imports (costs).
        "task": "costs.requeue_stale_bill_imports",
        "schedule": 300.0,
    },
}
# Vendors and red flags (issue 12): daily; both are idempotent.
CELERY_BEAT_SCHEDULE["evaluate-red-flags-daily"] = {
    "task": "reviews.evaluate_red_flags",
    "schedule": 86400.0,
}
CELERY_BEAT_SCHEDULE["contract-notice-reminders-daily"] = {
    "task": "pilots.contract_notice_reminders",
    "schedule": 86400.0,
}
# Budget alerts (issue 10, §4): hourly; each alert goes out once per key.
CELERY_BEAT_SCHEDULE["costs-check-budgets"] = {"task": "costs.check_budgets", "schedule": 3600.0}
# Showback of open months (issue 9, §6: live): daily, prices the days no
# import or edit refreshed (an idle backend's); idempotent.
CELERY_BEAT_SCHEDULE["costs-refresh-open-days-daily"] = {
    "task": "costs.refresh_open_days",
    "schedule": 86400.0,
}
CELERY_TIMEZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Axes logs every successful login at INFO; failures and lockouts are
    # logged at WARNING (and by portal.auth).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Costs: the reporting currency. Bills in another currency are refused row
# by row (nothing converts currencies); exports format money in it.
PILOTGATE_CURRENCY = env_str("PILOTGATE_CURRENCY", "USD").strip().upper()
if not re.fullmatch(r"[A-Z]{3}", PILOTGATE_CURRENCY):
    raise ImproperlyConfigured(
        f"Environment variable PILOTGATE_CURRENCY={PILOTGATE_CURRENCY!r} is not an ISO 4217 "
        "code (three letters, e.g. USD)."
    )

# Request guards (portal/request_guards.py). The slash guard goes before
# CommonMiddleware, whose APPEND_SLASH would redirect a POST (or raise in
# DEBUG); the body limit after AuthenticationMiddleware, which it asks who
# the client is, and before any view or CSRF check reads the body.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.common.CommonMiddleware"),
    "portal.request_guards.ApiSlashMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "portal.request_guards.RequestBodyLimitMiddleware",
)
# Login throttling (django-axes, portal/auth.py): per account and per client
# address, on the portal's login page and the admin's alike.
INSTALLED_APPS += ["axes"]
# Axes' middleware turns a lockout into the login page with the reason; last,
# so it sees the response of the login view. The CSP middleware wraps it, so
# that page gets its header (and nonce) too.
MIDDLEWARE += ["csp.middleware.CSPMiddleware", "axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before the password is checked.
    "portal.auth.ThrottledLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
# Either criterion locks: one account from anywhere, or one address trying many accounts.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.auth.client_ip"
# Behind a TLS proxy every client has the proxy's address: say how many
# proxies append to X-Forwarded-For so the client's own address is used.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Successful logins are in the session table already; axes keeps failures.
AXES_DISABLE_ACCESS_LOG = True
# Axes logs "deleted 0 failed attempts" at every successful login; the
# failures and lockouts (portal.auth) are what operators need.
AXES_VERBOSE = False

# Content-Security-Policy (django-csp) on every response: scripts, styles,
# images, fonts and requests only from the portal itself; an inline script
# runs only with the request's nonce (``{{ request.csp_nonce }}``). Pages that
# need more (ReDoc's styled components) widen it with ``csp_update``.
from csp.constants import NONCE, NONE, SELF  # noqa: E402 - beside its only use

INSTALLED_APPS += ["csp"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # data: for the SVG icons Swagger UI and plotly.js draw inline.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# OpenAPI (portal/schema.py): error responses on every operation, strict
# request bodies said so; the schema is checked by schemathesis in CI.
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "portal.schema.AutoSchema"
# django-filter's backend, but an unreadable yes/no filter is a 400 (portal/api.py).
# A multipart body without a named part is a 400, not an empty form (portal/parsers.py).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "portal.parsers.JSONParser",
    "rest_framework.parsers.FormParser",
    "portal.parsers.MultiPartParser",
]
REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"] = [
    "portal.api.FilterBackend",
    "rest_framework.filters.SearchFilter",
    "rest_framework.filters.OrderingFilter",
]
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "portal.schema.document_errors",
]
# Outgoing webhooks (reviews): only these exact host names may receive them,
# so no request goes to an internal address nobody listed. Empty: none.
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", [])
# Reviews' choice sets share field names with others (status, verdict):
# named here so the schema's enums are stable.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **dict(SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {})),  # type: ignore[call-overload]
    **{
        "ReviewStatusEnum": "reviews.models.Review.Status",
        "ReviewVerdictEnum": "reviews.models.Review.Verdict",
        "ReviewRecommendationEnum": "reviews.models.Review.Recommendation",
        "EvidenceSourceEnum": [("pilot", "Pilot"), ("backend", "Backend")],
    },
}
