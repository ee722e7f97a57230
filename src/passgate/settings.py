"""passgate settings: every value comes from the environment (12-factor), with
safe defaults for the embedded (SQLite) mode. Production mode refuses to start
with a default secret or with debug on."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}: expected true/false, found {raw!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


PASSGATE_ENV = env("PASSGATE_ENV", "development")
if PASSGATE_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"PASSGATE_ENV: expected development, production or test, found {PASSGATE_ENV!r}"
    )
PRODUCTION = PASSGATE_ENV == "production"

DEFAULT_SECRET_KEY = "passgate-insecure-development-key-change-me"
SECRET_KEY = env("PASSGATE_SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("PASSGATE_DEBUG", not PRODUCTION)

if PRODUCTION:
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "PASSGATE_SECRET_KEY: production mode needs a secret key of at least 32 characters "
            "that is not the development default"
        )
    if DEBUG:
        raise ImproperlyConfigured("PASSGATE_DEBUG: production mode refuses to run with debug on")

DATA_DIR = Path(env("PASSGATE_DATA_DIR", str(PROJECT_DIR / "var")))
ALLOWED_HOSTS = env_list("PASSGATE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("PASSGATE_CSRF_TRUSTED_ORIGINS", "")
BASE_URL = env("PASSGATE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "passgate.orgs.admin_site.PassgateAdminConfig",  # django.contrib.admin, with passgate's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "passgate.orgs",
    "passgate.catalog",
    "passgate.sales",
    "passgate.jobs",
    "passgate.access",
    "passgate.guest",
    # connectors: installed apps that register with passgate.jobs.registry (after the core rooms)
    "passgate.connectors.echo",
    "passgate.connectors.otipass",
    "passgate.connectors.tixngo",
    "passgate.connectors.fias",
    "passgate.connectors.paypal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "passgate.orgs.middleware.OrganisationTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "passgate.urls"
WSGI_APPLICATION = "passgate.wsgi.application"

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
            ],
        },
    },
]


POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def database_from_url(url: str) -> dict:
    """postgres://user:password@host:port/name?option=value → Django DATABASES entry.

    dj-database-url does the parsing (quoting, IPv6 hosts, typed options); we
    only accept PostgreSQL, the one server database passgate is tested on."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: this URL cannot be read ({exc})") from None
    if scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL: expected a postgres://user@host:port/name URL, found scheme {scheme!r}"
        )
    try:
        database = dj_database_url.parse(
            url, conn_max_age=int(env("PASSGATE_DB_CONN_MAX_AGE", "60")), conn_health_checks=True
        )
    except ValueError as exc:  # a port that is not a number, a broken IPv6 host…
        raise ImproperlyConfigured(f"DATABASE_URL: this URL cannot be read ({exc or 'bad host or port'})") from None
    if not database["NAME"]:
        raise ImproperlyConfigured("DATABASE_URL: the database name (the path after the host) is missing")
    database.setdefault("OPTIONS", {})
    database["TEST"] = {"NAME": f"test_{database['NAME']}"}
    return database


DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("PASSGATE_SQLITE_PATH", str(DATA_DIR / "passgate.sqlite3")),
            # Keep the connection between requests: opening one (and its PRAGMAs) costs ~2 ms a request.
            "CONN_MAX_AGE": int(env("PASSGATE_DB_CONN_MAX_AGE", "60")),
            # WAL + busy timeout + IMMEDIATE write transactions: concurrent
            # writers queue for the lock instead of failing with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;"
                ),
            },
            # A file, not memory: tests start real processes (gunicorn, workers) on it.
            "TEST": {"NAME": env("PASSGATE_SQLITE_TEST_PATH", str(DATA_DIR / "test.sqlite3"))},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
] if PRODUCTION else []

LANGUAGE_CODE = "en"
# The languages passgate speaks (the guest portal; the back office stays in English: no LocaleMiddleware).
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = env("PASSGATE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True  # stored in UTC, shown in the organisation's time zone

STATIC_URL = "static/"
STATIC_ROOT = Path(env("PASSGATE_STATIC_ROOT", str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

LOGIN_URL = "admin:login"

# Background work: Django's task API with the ORM backend (SKIP LOCKED on PostgreSQL).
TASKS = {
    "default": {
        "BACKEND": env("PASSGATE_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# Secrets at rest (interface passwords, API keys): Fernet keys, newest first.
# Rotating = prepend a new key; old ones still decrypt until re-encrypted.
# The largest request body the API reads (bytes); a bigger one is refused with 413.
# Django's own limit (forms, the admin) is raised to match when this one is larger.
PASSGATE_API_MAX_BODY_BYTES = int(env("PASSGATE_API_MAX_BODY_BYTES", str(2_621_440)))
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, PASSGATE_API_MAX_BODY_BYTES)

FERNET_KEYS = env_list("PASSGATE_FERNET_KEYS", "")

# Who draws new barcodes: a dotted path to (organisation, product, performance) -> barcode | None.
# The default issues signed barcodes for organisations that turned them on (random otherwise);
# empty = random barcodes only.
BARCODE_FACTORY = env("PASSGATE_BARCODE_FACTORY", "passgate.access.signing.barcode_factory")
# A post-sync run's claim on a partner card: a run killed mid-way leaves its cards to the next
# run once this has passed.
ACCESS_POSTSYNC_CLAIM_SECONDS = float(env("PASSGATE_ACCESS_POSTSYNC_CLAIM_SECONDS", "300"))

FERNET_KEY_EXPECTED = "a Fernet key: 32 bytes in url-safe base64 (44 characters, from Fernet.generate_key())"
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def fernet_key_problem(key: str) -> str | None:
    """What is wrong with one Fernet key, in words that never repeat the key; None if it is right."""
    if not _URLSAFE_BASE64.fullmatch(key):
        return f"{len(key)} characters that are not url-safe base64"
    try:
        raw = base64.urlsafe_b64decode(key)
    except (binascii.Error, ValueError):
        return f"{len(key)} characters that do not decode as base64 (bad length or padding)"
    if len(raw) != 32:
        return f"{len(raw)} bytes once decoded"
    return None


def check_fernet_keys(keys: list[str]) -> None:
    """Production refuses to start with a key Fernet cannot use: secrets written
    under it could never be read back (and a typo would only show at the first save)."""
    if not keys:
        raise ImproperlyConfigured("PASSGATE_FERNET_KEYS: production mode needs at least one Fernet key")
    for position, key in enumerate(keys, start=1):
        problem = fernet_key_problem(key)
        if problem:
            raise ImproperlyConfigured(
                f"PASSGATE_FERNET_KEYS: key {position} of {len(keys)} is not usable: "
                f"expected {FERNET_KEY_EXPECTED}, found {problem}"
            )


if PRODUCTION:
    check_fernet_keys(FERNET_KEYS)

# Jobs: a running schedule holds a lease this long, renewed while it runs; a run
# whose worker died is closed as ERROR "worker lost" once its lease expired.
JOBS_LEASE_SECONDS = float(env("PASSGATE_JOBS_LEASE_SECONDS", "120"))
# A run found busy (its schedule running elsewhere) is queued again this much later.
JOBS_BUSY_RETRY_SECONDS = float(env("PASSGATE_JOBS_BUSY_RETRY_SECONDS", "5"))

# Partner calls never go to internal addresses (loopback, private, link-local,
# cloud metadata…) unless the network is listed here, as CIDRs; outside
# production loopback is allowed too (the sandboxes listen there).
PARTNER_ALLOWED_NETWORKS = env_list("PASSGATE_PARTNER_ALLOWED_NETWORKS", "")
for _position, _network in enumerate(PARTNER_ALLOWED_NETWORKS, start=1):
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"PASSGATE_PARTNER_ALLOWED_NETWORKS: entry {_position} is not a network: expected a CIDR such as "
            f"10.20.0.0/16 or fd00::/8, found {_network!r}"
        ) from None

EMAIL_BACKEND = env("PASSGATE_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION
                    else "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("PASSGATE_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(env("PASSGATE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("PASSGATE_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("PASSGATE_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("PASSGATE_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("PASSGATE_DEFAULT_FROM_EMAIL", "passgate@localhost")
# A hung SMTP server must not stall a worker or a request: give up after this many seconds.
EMAIL_TIMEOUT = float(env("PASSGATE_EMAIL_TIMEOUT", "10"))

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("PASSGATE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Guest WiFi: where FreeRADIUS calls from (rlm_rest), and how SMS leave.
GUEST_RADIUS_FROM = env_list("PASSGATE_RADIUS_FROM", "127.0.0.1,::1")
GUEST_SMS_BACKEND = env("PASSGATE_SMS_BACKEND", "console")  # console | http
GUEST_SMS_URL = env("PASSGATE_SMS_URL", "http://127.0.0.1:8104")
GUEST_SMS_KEY = env("PASSGATE_SMS_KEY", "sms-key")
GUEST_SMS_SENDER = env("PASSGATE_SMS_SENDER", "passgate")
GUEST_SMS_REGION = env("PASSGATE_SMS_REGION", "FR")  # numbers without +country are read in this region
