"""Test settings: Chatty's own settings, with sign-in providers pointed at a local stand-in.

allauth reads Google's endpoint URLs when its module is imported, so they are fixed here,
before Django starts, on a port chosen now; the stand-in server (tests/accounts/oauth_stub.py) binds
that port when a test needs it.
"""

import os
import socket


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OAUTH_STUB_PORT = int(os.environ.setdefault("CHATTY_TEST_OAUTH_PORT", str(_free_port())))
_stub = f"http://127.0.0.1:{OAUTH_STUB_PORT}"
os.environ.setdefault("GOOGLE_CLIENT_ID", "test-google-client")
os.environ.setdefault("GOOGLE_CLIENT_SECRET", "test-google-secret")
os.environ.setdefault("GITHUB_CLIENT_ID", "test-github-client")
os.environ.setdefault("GITHUB_CLIENT_SECRET", "test-github-secret")
os.environ.setdefault("GOOGLE_AUTHORIZE_URL", f"{_stub}/google/authorize")
os.environ.setdefault("GOOGLE_ACCESS_TOKEN_URL", f"{_stub}/google/token")
os.environ.setdefault("GOOGLE_IDENTITY_URL", f"{_stub}/google/userinfo")
os.environ.setdefault("GOOGLE_CERTS_URL", f"{_stub}/google/certs")
os.environ.setdefault("GOOGLE_ID_TOKEN_ISSUER", "https://accounts.google.com")
os.environ.setdefault("GITHUB_URL", f"{_stub}/github")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-that-is-long-enough-0123456789")

from chatty.settings import *  # noqa: E402,F403
from chatty.settings import BASE_DIR, CACHES, CHANNEL_LAYERS, CHATTY_PICTURE_HOSTS, DATABASES  # noqa: E402

# Test data uses example.com pictures (a documentation domain) beside the providers' hosts.
CHATTY_PICTURE_HOSTS = [*CHATTY_PICTURE_HOSTS, "example.com"]

# Several test runs may share this machine's PostgreSQL and Redis at once: each run gets
# its own database and its own channel-layer prefix.
RUN_ID = os.environ.setdefault("CHATTY_TEST_RUN_ID", str(os.getpid()))

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: tests that start server processes share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{RUN_ID}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_chatty_{RUN_ID}"}
if "prefix" in CHANNEL_LAYERS["default"].get("CONFIG", {}) or "hosts" in CHANNEL_LAYERS["default"].get("CONFIG", {}):
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"chatty-test-{RUN_ID}"
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # allauth's rate-limit counters live in the cache: keep each run's apart.
    CACHES["default"]["KEY_PREFIX"] = f"chatty-test-{RUN_ID}"
