"""Chatty settings: everything an operator may change comes from the environment (SPEC §6)."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# A developer's machine needs no configuration at all, so DEBUG is on unless turned off;
# production deployments set DEBUG=0 (docs in README) and must then give SECRET_KEY.
DEBUG = env_bool("DEBUG", default=True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off, Chatty needs SECRET_KEY in the environment "
            "(for example: export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))'))."
        )
    # Development only: one random key, generated once and kept in a git-ignored file so
    # sessions and tokens survive restarts.
    path = BASE_DIR / ".secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "accounts",
    "friends",
    "chats",
    "presence",
    "chatty",  # operator commands (chatty/management: backup_sqlite)
]

MIDDLEWARE = [
    # Probes and scrapers (/healthz, /metrics) are answered before the host check and the
    # https redirect: they talk to the process by its address, over plain http.
    "chatty.health.ProbeMiddleware",
    "chatty.metrics.MetricsMiddleware",
    # Before the rest, so that every error under /api/ — even those raised by later middleware — is JSON.
    "chatty.api.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "chatty.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "chatty.urls"
# Seconds between re-checks of every open socket's session or token (SPEC §9: a socket does
# not outlive its session); a check is one or two indexed queries per distinct session.
# Seconds between the interpreter's GIL hand-overs when database threads run (chatty/dbcalls.py).
CHATTY_SWITCH_INTERVAL = float(os.environ.get("CHATTY_SWITCH_INTERVAL", "0.0005"))
CHATTY_SOCKET_RECHECK_SECONDS = float(os.environ.get("CHATTY_SOCKET_RECHECK_SECONDS", "30"))
CHATTY_BEARER_AUTH = "accounts.tokens.user_from_bearer"  # token -> active user or None (HTTP API)
ASGI_APPLICATION = "chatty.asgi.application"

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
                "django.template.context_processors.i18n",
                "accounts.context_processors.sign_in",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Websockets and page requests write from several threads: wait for the lock instead of
    # failing, take the write lock up front (no upgrade deadlocks), and let readers run
    # beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pool of connections per process (psycopg-pool), as Django advises under ASGI: a
    # connection is taken for each database call and handed back after it, instead of
    # opening a new PostgreSQL connection (a forked backend, ~4 ms) every time.
    _pool_size = int(os.environ.get("CHATTY_DB_POOL_SIZE", "20"))
    if _pool_size > 0:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, _pool_size),
            "max_size": _pool_size,
            "timeout": 10,
        }
# Threads for the websocket's frequent database calls (chatty/dbcalls.py; PostgreSQL only).
# A send holds its thread until its commit is on disk (a WAL flush, milliseconds): with 4
# threads a process stored at most ~440 messages/s with acks queueing to 2 s; with 16 the same
# 500/s were acknowledged at p50 9 ms (bench/fanout.py, docs/performance.md). Concurrent
# commits share a flush in PostgreSQL, so more threads mean more commits per flush.
CHATTY_DB_THREADS = int(os.environ.get("CHATTY_DB_THREADS", "16"))
# Group commit of the websocket's plain sends (chats/sendbatch.py; PostgreSQL only): how many
# batches may be in flight at once; sends arriving meanwhile wait and go together in the next.
# 0 turns batching off (every send its own transaction).
CHATTY_SEND_BATCHES = int(os.environ.get("CHATTY_SEND_BATCHES", "2"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds a websocket frame may wait for a client that stopped reading before it is cut off.
CHATTY_SLOW_CLIENT_SECONDS = float(os.environ.get("CHATTY_SLOW_CLIENT_SECONDS", "10"))

# channels-redis' pub/sub layer by default: measured as fast as the core layer at half the
# Redis CPU (docs/performance.md), and a dropped event never loses a stored message (clients
# catch up by afterId; sockets fill gaps from the database). `core` stays selectable.
CHANNEL_LAYER_KIND = os.environ.get("CHATTY_CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER_KIND not in ("pubsub", "core"):
    raise ImproperlyConfigured("CHATTY_CHANNEL_LAYER must be 'pubsub' or 'core'.")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"
            if CHANNEL_LAYER_KIND == "pubsub"
            else "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    if CHANNEL_LAYER_KIND == "core":
        # The default capacity (100) drops events for a busy socket with only a log line.
        CHANNEL_LAYERS["default"]["CONFIG"].update({"capacity": 10_000, "expiry": 60})
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # The default capacity (100) silently drops events for a busy socket.
            "CONFIG": {"capacity": 10_000, "expiry": 60},
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

CSRF_FAILURE_VIEW = "chatty.api.csrf_failure"
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/dashboard"
LOGOUT_REDIRECT_URL = "/login"

# --- allauth ---------------------------------------------------------------------------
CHATTY_SOCIAL_ONLY = env_bool("CHATTY_SOCIAL_ONLY")
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = True
SOCIALACCOUNT_LOGIN_ON_GET = False
# Never sign a provider account into an existing local account because the emails match:
# that would let whoever controls an email at a provider take the account over.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = False


def _provider(prefix: str, extra: dict) -> dict:
    client_id = os.environ.get(f"{prefix}_CLIENT_ID", "")
    secret = os.environ.get(f"{prefix}_CLIENT_SECRET", "")
    config: dict = {"OAUTH_PKCE_ENABLED": True, **extra}
    if client_id and secret:
        config["APPS"] = [{"client_id": client_id, "secret": secret, "key": ""}]
    return config


# Provider endpoints may be pointed elsewhere (allauth's own settings; SPEC §6). The tests
# use this to run whole sign-ins against a local stand-in provider.
_google_urls = {
    name: os.environ[f"GOOGLE_{name}"]
    for name in ("AUTHORIZE_URL", "ACCESS_TOKEN_URL", "IDENTITY_URL", "CERTS_URL", "ID_TOKEN_ISSUER")
    if os.environ.get(f"GOOGLE_{name}")
}
_github_urls = {"GITHUB_URL": os.environ["GITHUB_URL"]} if os.environ.get("GITHUB_URL") else {}
SOCIALACCOUNT_PROVIDERS = {
    "google": _provider("GOOGLE", {"SCOPE": ["openid", "profile", "email"], **_google_urls}),
    "github": _provider("GITHUB", {"SCOPE": ["read:user", "user:email"], **_github_urls}),
}

# --- API and limits --------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # SPEC §3: bodies over 1 MiB are refused with 413
API_TOKEN_DEFAULT_MINUTES = 60
API_TOKEN_MAX_MINUTES = 1440

# --- trust: sessions, tokens, mail, pictures, connection limit ----------------------------
# Session rows that know their user (accounts/sessions.py): "log out everywhere" and a
# password change find every session of a user, and each ended session closes its sockets.
SESSION_ENGINE = "accounts.sessions"
# SPEC §9: one more socket than this is accepted and closed with 4429.
CHATTY_MAX_CONNECTIONS_PER_USER = int(os.environ.get("CHATTY_MAX_CONNECTIONS_PER_USER", "20"))
# Pictures load only from the providers' avatar hosts (and this site): any other host would
# see every reader's address each time a page shows the picture.
CHATTY_PICTURE_HOSTS = env_list("CHATTY_PICTURE_HOSTS", [".googleusercontent.com", "avatars.githubusercontent.com"])
# Mail (password reset): EMAIL_URL such as submission://user:password@smtp.example.com
# (587, STARTTLS), smtp://host:25, console:// or file:///var/mail/chatty; or the usual
# EMAIL_HOST/EMAIL_PORT/...; printed to the console when unset and DEBUG on.
if os.environ.get("EMAIL_URL"):
    _email = dj_email_url.parse(os.environ["EMAIL_URL"])
    if "EMAIL_BACKEND" not in _email:
        raise ImproperlyConfigured(
            "EMAIL_URL has an unknown scheme; use submission://, smtp://, console:// or file://."
        )
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
    EMAIL_PORT = _email["EMAIL_PORT"] or 25
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
    EMAIL_USE_TLS = bool(_email["EMAIL_USE_TLS"])
    EMAIL_USE_SSL = bool(_email["EMAIL_USE_SSL"])
    if _email["EMAIL_BACKEND"].endswith("filebased.EmailBackend"):
        # dj-email-url drops the leading slash of file:///absolute/path
        EMAIL_FILE_PATH = "/" + _email["EMAIL_FILE_PATH"].lstrip("/")
elif os.environ.get("EMAIL_HOST"):
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Chatty <chatty@localhost>")
# --- end trust ----------------------------------------------------------------------------

# --- uploads and media (files; SPEC §10, §11) ------------------------------------------
# Uploads go through Django's storage API: a local folder by default (MEDIA_ROOT), any storage
# backend (django-storages' S3, ...) by CHATTY_MEDIA_STORAGE (its class) and
# CHATTY_MEDIA_STORAGE_OPTIONS (a JSON object of its options). Nothing serves MEDIA_ROOT as a
# folder: attachments are served by chats/media.py to those who may see them.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "/media/"
STORAGES = {
    "default": {
        "BACKEND": os.environ.get("CHATTY_MEDIA_STORAGE") or "django.core.files.storage.FileSystemStorage",
        "OPTIONS": json.loads(os.environ.get("CHATTY_MEDIA_STORAGE_OPTIONS") or "{}"),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CHATTY_MAX_UPLOAD_MB = int(os.environ.get("CHATTY_MAX_UPLOAD_MB", "10"))
# Bodies allowed past the JSON API's 1 MiB (chatty/api.py): the upload's multipart body holds
# the file and a little framing.
CHATTY_BODY_LIMITS = {"/api/chat/upload": CHATTY_MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024}
# With nginx in front: the `internal` location that serves MEDIA_ROOT (deploy/nginx/chatty.conf),
# e.g. /protected-media/. Empty: Django streams the files itself.
CHATTY_MEDIA_ACCEL_REDIRECT = os.environ.get("CHATTY_MEDIA_ACCEL_REDIRECT", "")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Uploads (Django's default storage): `media/` in the repository unless MEDIA_ROOT says where.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("CHATTY_HTTPS"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CHATTY_HSTS_SUBDOMAINS", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes talk plain http to the process
    # Joining the browsers' HSTS preload list is the operator's decision, not a default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # chatty.logs.formatter: JSON (one object per line) with LOG_FORMAT=json, plain otherwise;
    # deploy/logging.json gives uvicorn's own lines the same format.
    "formatters": {"chatty": {"()": "chatty.logs.formatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "chatty"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Python's warnings become log records too (one format for every line, LOG_FORMAT=json).
logging.captureWarnings(True)

# --- ops: content security policy, metrics -----------------------------------------------
# django-csp. Scripts and styles only from this origin (htmx and the API reference run without
# inline code or eval); avatars from the providers over https; fetches and websockets only to
# this origin ('self' covers ws:/wss: of the same host in current browsers). The admin gets
# the same policy. Browsers report violations to /csp-report (logged and counted).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "report-uri": "/csp-report",
    },
}
# GET /metrics (chatty/metrics.py): a scraper needs `Authorization: Bearer <token>` or an
# address in the list (addresses or networks, comma-separated); with neither, nobody gets in.
CHATTY_METRICS_TOKEN = os.environ.get("CHATTY_METRICS_TOKEN", "")
CHATTY_METRICS_ALLOWED_IPS = env_list("CHATTY_METRICS_ALLOWED_IPS", [])
