"""Django settings, derived from the site configuration written by ./install.

Nothing site-specific is written here: ports, roots, database, cache and broker
all come from site.env (see crds_server.siteconfig), secrets from the mode-0600
file that ./install generates.
"""

import os
import secrets as _secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from crds_server import siteconfig

SITE = siteconfig.load()


def _in_apache_worker() -> bool:
    """True in Apache's own worker processes (mod_wsgi embedded mode: /json/, servers/httpd.conf)."""
    module = sys.modules.get("mod_wsgi")  # mod_wsgi's own module exists only under Apache
    return getattr(module, "process_group", None) == ""


_SECRETS = siteconfig.read_secrets(SITE)

CRDS_OBSERVATORY = SITE["CRDS_OBSERVATORY"]
CRDS_USECASE = SITE["CRDS_USECASE"]
CRDS_STACK = SITE["CRDS_STACK"]
EMBEDDED = CRDS_STACK == "embedded"

CRDS_ROOT = Path(SITE["CRDS"])
CRDS_SERVER_FILES = Path(SITE["CRDS_SERVER_FILES"])
CRDS_FILE_CACHE = Path(SITE["CRDS_FILE_CACHE"])
CRDS_SERVER_DIR = CRDS_ROOT / "server"
CRDS_PUBLIC_URL = SITE["CRDS_PUBLIC_URL"].rstrip("/")
CRDS_URL_PREFIX = SITE["CRDS_URL_PREFIX"].rstrip("/")
CRDS_HTTPS = SITE["CRDS_HTTPS"].lower() == "true"
CRDS_DISTRIBUTION_STATES = tuple(s.strip() for s in SITE["CRDS_DISTRIBUTION_STATES"].split(",") if s.strip())

# The crds library reads its cache from the environment; the server's own
# cache is the file cache, and the server never asks another server for rules.
os.environ["CRDS_PATH"] = str(CRDS_FILE_CACHE)
os.environ["CRDS_OBSERVATORY"] = CRDS_OBSERVATORY
os.environ.setdefault("CRDS_MODE", "local")
# The library runs gc.collect() around every header read and certify (0.07 s and more each,
# growing with the heap): most of a submission's per-reference time. Reference counting
# already frees the arrays it guards against, so the server turns it off.
os.environ.setdefault("CRDS_EXPLICIT_GARBAGE_COLLECTION", "False")
# Without a server URL the library would fall back to STScI's public server; the
# server computes only from its own cache, so point the library at no server at all.
os.environ.setdefault("CRDS_SERVER_URL", "https://crds-serverless-mode.stsci.edu")

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = _SECRETS.get("CRDS_SECRET_KEY") or _secrets.token_urlsafe(50)
DEBUG = os.environ.get("CRDS_DEBUG", "").lower() == "true"
# The configured hosts, the public URL's host (the name clients use) and the test client's.
ALLOWED_HOSTS = [h.strip() for h in SITE["CRDS_ALLOWED_HOSTS"].split(",") if h.strip()]
for _host in (urlsplit(CRDS_PUBLIC_URL).hostname, "testserver"):
    if _host and _host not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_host)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "interactive",
    "jsonapi",
    "jpoll",
    "locking",
    "fileupload",
    "stats",
    "reprocessing",
    "operations",
]

MIDDLEWARE = [
    "crds_server.middleware.CollapseSlashesMiddleware",
    "stats.middleware.RequestStatsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "locking.middleware.LockRefreshMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "crds_server.urls"
WSGI_APPLICATION = "crds_server.wsgi.application"

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
                "crds_server.context_processors.site",
            ],
        },
    },
]

if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(CRDS_SERVER_DIR / "crds.sqlite3"),
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": SITE["CRDS_DB_NAME"],
            "USER": SITE["CRDS_DB_USER"],
            "PASSWORD": _SECRETS.get("CRDS_DB_PASSWORD", ""),
            "HOST": SITE["CRDS_DB_HOST"],
            "PORT": SITE["CRDS_DB_PORT"],
            "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
            "TEST": {"NAME": "test_" + SITE["CRDS_DB_NAME"]},
            # Each WSGI daemon thread keeps its connection instead of opening one per request.
            # Apache's own workers (JSON-RPC only; 100 threads by default) do not: they would hold
            # more connections than MariaDB allows, and a warm best-references call needs none.
            "CONN_MAX_AGE": 0 if _in_apache_worker() else 300,
            "CONN_HEALTH_CHECKS": True,
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if SITE["CRDS_CACHE_BACKEND"] == "memcached":
    CACHES = {
        "default": {
            "BACKEND": "crds_server.cache_backend.PersistentPyMemcacheCache",
            "LOCATION": f"127.0.0.1:{SITE['CRDS_MEMCACHED_PORT']}",
            "KEY_PREFIX": SITE["CRDS_CACHE_PREFIX"],
            "OPTIONS": {"no_delay": True, "ignore_exc": True},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": SITE["CRDS_CACHE_PREFIX"],
        }
    }

# Background jobs: Celery with Redis in production; in-process when embedded.
CELERY_BROKER_URL = SITE["CRDS_REDIS_URL"]
CELERY_RESULT_BACKEND = SITE["CRDS_REDIS_URL"]
CELERY_TASK_DEFAULT_QUEUE = SITE["CRDS_CELERY_QUEUE"]
CELERY_TASK_ALWAYS_EAGER = EMBEDDED
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_IMPORTS = ("crds_server.tasks",)

AUTH_PASSWORD_VALIDATORS = []
LOGIN_URL = CRDS_URL_PREFIX + "/login/"
LOGIN_REDIRECT_URL = CRDS_URL_PREFIX + "/"

SESSION_COOKIE_SECURE = CRDS_HTTPS
# Sessions last 18 h from login, are not extended by activity and survive a browser
# restart (server-behaviour.md §8.3); the login view fixes the expiry at login.
SESSION_COOKIE_AGE = 18 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = False
SESSION_SAVE_EVERY_REQUEST = False
CSRF_COOKIE_SECURE = CRDS_HTTPS
# The client sends the public base URL as Referer/Origin.
CSRF_TRUSTED_ORIGINS = ["{0.scheme}://{0.netloc}".format(urlsplit(CRDS_PUBLIC_URL))]
# Behind a prefix, cookies stay with this server (another may share the host name).
SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = CRDS_URL_PREFIX + "/"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Uploads land on the same file system as the ingest areas so they can be hard-linked.
FILE_UPLOAD_TEMP_DIR = str(CRDS_SERVER_FILES / "uploads") if (CRDS_SERVER_FILES / "uploads").is_dir() else None
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = None  # the JSON-RPC view enforces its own limit
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Largest file accepted into an ingest area or as a best-references dataset (site configuration).
CRDS_MAX_UPLOAD_BYTES = int(SITE.get("CRDS_MAX_UPLOAD_BYTES") or 50 * 1024**3)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = False  # catalog dates are naive UTC strings on the wire, as the original's

STATIC_URL = (CRDS_URL_PREFIX + "/static/") if CRDS_URL_PREFIX else "/static/"
STATIC_ROOT = str(CRDS_SERVER_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]  # site-wide CSS (vendored Bootstrap); apps keep their own static/
# With Apache, WSGIScriptAlias mounts the application at the prefix; with Django's own
# server, crds_server.middleware.PrefixMount does. Either way reverse() and redirects carry it.
FORCE_SCRIPT_NAME = CRDS_URL_PREFIX or None

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_HOST = SITE["CRDS_EMAIL_HOST"]
EMAIL_PORT = int(SITE["CRDS_EMAIL_PORT"])
DEFAULT_FROM_EMAIL = SITE["CRDS_FROM_EMAIL"]
SERVER_EMAIL = SITE["CRDS_FROM_EMAIL"]
CRDS_ADMIN_EMAILS = [a.strip() for a in SITE["CRDS_ADMIN_EMAILS"].split(",") if a.strip()]
CRDS_STATUS_TO_ADDRESSES = [a.strip() for a in SITE.get("CRDS_STATUS_TO_ADDRESSES", "").split(",") if a.strip()]
CRDS_STATUS_CONFIRM_ADDRESSES = [
    a.strip() for a in SITE.get("CRDS_STATUS_CONFIRM_ADDRESSES", "").split(",") if a.strip()]
# Archive delivery directories (server-behaviour.md §6.2); the first one is recorded in catalog_link.
CRDS_DELIVERY_DIRS = [Path(d.strip()) for d in SITE.get("CRDS_DELIVERY_DIRS", "").split(",") if d.strip()] or [
    CRDS_SERVER_FILES / "deliveries"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Affected datasets (reprocessing app): where dataset parameters come from (a
# class with the reprocessing.sources.DatasetSource surface), the chunk size of
# the distributed computation, and who gets the result mails.
CRDS_DATASET_SOURCE = os.environ.get("CRDS_DATASET_SOURCE", "reprocessing.sources.DatabaseSource")
CRDS_REPROCESSING_CHUNK_SIZE = int(os.environ.get("CRDS_REPROCESSING_CHUNK_SIZE", "2000"))
# A worker holding a chunk shows a heartbeat at least every fifth of this many seconds; a chunk
# without one for this long is taken to be lost with its worker and computed again.
CRDS_REPROCESSING_LEASE = float(os.environ.get("CRDS_REPROCESSING_LEASE", "300"))
CRDS_REPROCESSING_EMAILS = [a.strip() for a in os.environ.get("CRDS_REPROCESSING_EMAILS", "").split(",")
                            if a.strip()] or CRDS_ADMIN_EMAILS
from celery.schedules import crontab as _crontab  # noqa: E402

CELERY_BEAT_SCHEDULE = {
    "monitor-reprocessing": {"task": "reprocessing.tasks.monitor_reprocessing", "schedule": 300.0},
    "query-affected-datasets": {"task": "reprocessing.tasks.query_affected_datasets", "schedule": 600.0},
    "clear-expired-locks": {"task": "locking.clear_expired_locks", "schedule": 300.0},
    "expire-jpoll-channels": {"task": "jpoll.expire_channels", "schedule": 3600.0},
    "update-delivery-status": {"task": "interactive.update_delivery_status", "schedule": 300.0},
    "remove-abandoned-uploads": {"task": "interactive.remove_abandoned_uploads", "schedule": 3600.0},
    # operations (the embedded stack runs the same jobs from host/crontab; production runs beat only)
    "publish-server-cache": {"task": "operations.publish_cache", "schedule": 300.0},
    "clear-web-cache": {"task": "operations.clear_web_cache", "schedule": 4 * 3600.0},
    "verify-cache": {"task": "operations.verify_cache", "schedule": _crontab(minute=0, hour=4, day_of_week=0)},
    "certify-cache": {"task": "operations.certify_cache", "schedule": _crontab(minute=0, hour=5, day_of_week=0)},
    "weekly-status": {"task": "operations.status_report", "schedule": _crontab(minute=0, hour=7, day_of_week=1),
                      "args": ("weekly",)},
    "monthly-status": {"task": "operations.status_report", "schedule": _crontab(minute=0, hour=7, day_of_month=1),
                       "args": ("monthly",)},
    "nightly": {"task": "operations.nightly", "schedule": _crontab(minute=5, hour=3)},
    "sync-group-cache": {"task": "operations.sync_group_cache", "schedule": 600.0},
    "verify-group-cache": {"task": "operations.verify_group_cache",
                           "schedule": _crontab(minute=0, hour=4, day_of_week=6)},
}

# Real workers on an embedded (SQLite) root: benchmarks and the distributed affected-datasets test.
if os.environ.get("CRDS_CELERY_EAGER", "").lower() == "false":
    CELERY_TASK_ALWAYS_EAGER = False
