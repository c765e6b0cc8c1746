"""A local stand-in for Google's and GitHub's OAuth endpoints, so a whole sign-in runs offline.

tests/settings.py points allauth at http://127.0.0.1:$CHATTY_TEST_OAUTH_PORT/google/... and
.../github before Django starts; this server binds that port. It behaves like the real
providers where Chatty's safety depends on it: codes are single-use and tied to the
redirect URI, client credentials are checked, and PKCE (S256) is enforced, so a test passes
only if allauth really sent what a real provider would demand.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_KID = "chatty-test-key-1"


def default_google_identity() -> dict[str, Any]:
    return {
        "sub": "109876543210987654321",
        "email": "ada@example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/ada",
    }


def default_github_identity() -> dict[str, Any]:
    return {
        "id": 583231,
        "login": "octocat",
        "name": "The Octocat",
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "email": "octocat@example.com",
    }


def s256(verifier: str) -> str:
    """RFC 7636 code challenge of a verifier (base64url, no padding)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Grant:
    """What an authorization code stands for, as the provider remembers it."""

    provider: str
    client_id: str
    redirect_uri: str
    identity: dict[str, Any]
    code_challenge: str | None
    code_challenge_method: str | None


@dataclass
class PkceCheck:
    """One token request's PKCE outcome, for tests to assert PKCE was really used."""

    provider: str
    code_challenge: str | None
    verifier_matched: bool


@dataclass
class OAuthStub:
    """The server's state; tests set the identities and read what the server saw."""

    port: int
    google_client_id: str
    google_client_secret: str
    github_client_id: str
    github_client_secret: str
    google_identity: dict[str, Any] = field(default_factory=default_google_identity)
    github_identity: dict[str, Any] = field(default_factory=default_github_identity)
    # None: derive one verified primary address from github_identity["email"].
    github_emails: list[dict[str, Any]] | None = None
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    pkce_checks: list[PkceCheck] = field(default_factory=list)
    token_errors: list[str] = field(default_factory=list)
    _grants: dict[str, Grant] = field(default_factory=dict)
    _tokens: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate_pem = _self_signed_certificate(self.private_key)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="oauth-stub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def reset(self) -> None:
        """Forget everything a previous test set up or caused."""
        with self._lock:
            self.google_identity = default_google_identity()
            self.github_identity = default_github_identity()
            self.github_emails = None
            self.authorize_requests.clear()
            self.pkce_checks.clear()
            self.token_errors.clear()
            self._grants.clear()
            self._tokens.clear()

    # --- the provider's behaviour ---------------------------------------------------
    def authorize(self, provider: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The consent page, already consented: straight back to the client with a code."""
        client_id = self.google_client_id if provider == "google" else self.github_client_id
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != client_id or not redirect_uri or params.get("response_type") != "code":
            return _json(400, {"error": "invalid_request"})
        identity = dict(self.google_identity if provider == "google" else self.github_identity)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.authorize_requests.append({"provider": provider, **params})
            self._grants[code] = Grant(
                provider=provider,
                client_id=client_id,
                redirect_uri=redirect_uri,
                identity=identity,
                code_challenge=params.get("code_challenge"),
                code_challenge_method=params.get("code_challenge_method"),
            )
        back = {"code": code}
        if "state" in params:
            back["state"] = params["state"]
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return 302, {"Location": f"{redirect_uri}{separator}{urlencode(back)}"}, b""

    def exchange(self, provider: str, form: dict[str, str]) -> tuple[str, Grant] | str:
        """Check a token request; the access token and its grant, or an OAuth error code."""
        client_id, secret = (
            (self.google_client_id, self.google_client_secret)
            if provider == "google"
            else (self.github_client_id, self.github_client_secret)
        )
        if form.get("client_id") != client_id or form.get("client_secret") != secret:
            return self._refuse("invalid_client")
        if provider == "google" and form.get("grant_type") != "authorization_code":
            return self._refuse("unsupported_grant_type")
        with self._lock:
            # Codes are single-use whatever happens next, as at the real providers.
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.provider != provider or grant.client_id != client_id:
            return self._refuse("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("redirect_uri_mismatch")
        verifier = form.get("code_verifier")
        matched = bool(
            grant.code_challenge
            and grant.code_challenge_method == "S256"
            and verifier
            and secrets.compare_digest(s256(verifier), grant.code_challenge)
        )
        with self._lock:
            self.pkce_checks.append(PkceCheck(provider, grant.code_challenge, matched))
        if (grant.code_challenge or verifier) and not matched:
            return self._refuse("invalid_grant")
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access_token] = (provider, grant.identity)
        return access_token, grant

    def identity_for(self, provider: str, authorization: str) -> dict[str, Any] | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in {"bearer", "token"}:
            return None
        with self._lock:
            found = self._tokens.get(token.strip())
        if found is None or found[0] != provider:
            return None
        return found[1]

    def id_token(self, identity: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": GOOGLE_ISSUER,
            "azp": self.google_client_id,
            "aud": self.google_client_id,
            "iat": now,
            "exp": now + 3600,
            **identity,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": GOOGLE_KID})

    def _refuse(self, error: str) -> str:
        with self._lock:
            self.token_errors.append(error)
        return error


def _self_signed_certificate(key: rsa.RSAPrivateKey) -> str:
    """The PEM certificate Google publishes per key id (the format allauth's lookup expects)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chatty-test-oauth")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _handler_for(stub: OAuthStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: test output should show failures, not every request."""

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._send(*self._route_get(url.path, params))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            self._send(*self._route_post(urlsplit(self.path).path, form))

        def _route_get(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            auth = self.headers.get("Authorization", "")
            if path == "/google/authorize":
                return stub.authorize("google", params)
            if path == "/google/certs":
                return _json(200, {GOOGLE_KID: stub.certificate_pem})
            if path == "/google/userinfo":
                identity = stub.identity_for("google", auth)
                if identity is None:
                    return _json(401, {"error": "invalid_token"})
                return _json(200, {"id": identity["sub"], "verified_email": identity.get("email_verified"), **identity})
            if path == "/github/login/oauth/authorize":
                return stub.authorize("github", params)
            if path == "/github/api/v3/user":
                identity = stub.identity_for("github", auth)
                if identity is None:
                    return _json(401, {"message": "Bad credentials"})
                return _json(200, identity)
            if path == "/github/api/v3/user/emails":
                identity = stub.identity_for("github", auth)
                if identity is None:
                    return _json(401, {"message": "Bad credentials"})
                emails = stub.github_emails
                if emails is None:
                    email = identity.get("email")
                    emails = [{"email": email, "primary": True, "verified": True, "visibility": "public"}]
                    emails = emails if email else []
                return _json(200, emails)
            return _json(404, {"error": "not_found"})

        def _route_post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            if path == "/google/token":
                result = stub.exchange("google", form)
                if isinstance(result, str):
                    return _json(400, {"error": result})
                access_token, grant = result
                return _json(
                    200,
                    {
                        "access_token": access_token,
                        "expires_in": 3599,
                        "token_type": "Bearer",
                        "scope": "openid email profile",
                        "id_token": stub.id_token(grant.identity),
                    },
                )
            if path == "/github/login/oauth/access_token":
                result = stub.exchange("github", form)
                # GitHub answers errors with 200 and form-encoded bodies unless asked for JSON.
                if isinstance(result, str):
                    payload = {"error": result}
                else:
                    payload = {"access_token": result[0], "token_type": "bearer", "scope": "read:user,user:email"}
                if "application/json" in self.headers.get("Accept", ""):
                    return _json(200, payload)
                return 200, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(payload).encode()
            return _json(404, {"error": "not_found"})

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def stub_from_environment() -> OAuthStub:
    """A stub with the port and client credentials tests/settings.py put in the environment."""
    return OAuthStub(
        port=int(os.environ["CHATTY_TEST_OAUTH_PORT"]),
        google_client_id=os.environ["GOOGLE_CLIENT_ID"],
        google_client_secret=os.environ["GOOGLE_CLIENT_SECRET"],
        github_client_id=os.environ["GITHUB_CLIENT_ID"],
        github_client_secret=os.environ["GITHUB_CLIENT_SECRET"],
    )
