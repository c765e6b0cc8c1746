"""Whole sign-ins with Google and GitHub, against the local stand-in provider (no mocks).

Each test walks the path a browser takes: Chatty's button (or /api/auth/<provider>) sends
the browser to the provider, the provider sends it back with a code and the state, and
Chatty's callback finishes the sign-in. Only the provider is a stand-in.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.test import Client

from accounts.models import User
from tests.accounts.oauth_stub import GOOGLE_KID, OAuthStub

pytestmark = pytest.mark.django_db(transaction=False)

PROVIDERS = ["google", "github"]
AUTHORIZE_PATHS = {"google": "/google/authorize", "github": "/github/login/oauth/authorize"}


def browser() -> Client:
    """A browser of its own: it must send CSRF tokens, and its own address keeps allauth's
    per-IP rate limits (kept in a cache that outlives one test) from adding up across tests."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.7")


def start_with_button(client: Client, provider: str, page_url: str = "/login") -> str:
    """Press "Start with <provider>" on a sign-in page; the provider URL the browser is sent to."""
    page = client.get(page_url)
    assert page.status_code == 200
    text = page.content.decode()
    form = re.search(rf'<form method="post" action="(/accounts/{provider}/login/)">(.*?)</form>', text, re.S)
    assert form, f"no {provider} button on /login"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    response = client.post(form.group(1), {k: html.unescape(v) for k, v in fields.items()})
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def start_with_api(client: Client, provider: str) -> str:
    response = client.get(f"/api/auth/{provider}")
    assert response.status_code == 302
    return response["Location"]


def consent(authorize_url: str) -> str:
    """The provider's consent page (already consented): where it sends the browser back."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def come_back(client: Client, callback_url: str, **override: str | None) -> Any:
    """Open the callback URL in the browser, optionally with query parameters changed."""
    parts = urlsplit(callback_url)
    assert (parts.scheme, parts.netloc) == ("http", "testserver")
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in override.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return client.get(parts.path, params)


def sign_in(client: Client, provider: str, *, via: str = "button") -> Any:
    start = start_with_button if via == "button" else start_with_api
    return come_back(client, consent(start(client, provider)))


def signed_in_user_id(client: Client) -> str | None:
    """Who Chatty thinks this browser is, as its own API reports it."""
    answer = client.get("/api/auth/check-auth")
    if answer.status_code == 401:
        return None
    assert answer.status_code == 200
    return answer.json()["user"]["id"]


def set_identity(stub: OAuthStub, provider: str, **fields: Any) -> None:
    if provider == "google":
        stub.google_identity.update(fields)
    else:
        stub.github_identity.update(fields)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("via", ["button", "api"])
def test_the_provider_login_goes_to_the_providers_consent_page(oauth_stub: OAuthStub, provider: str, via: str) -> None:
    client = browser()
    url = start_with_button(client, provider) if via == "button" else start_with_api(client, provider)

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == oauth_stub.base_url + AUTHORIZE_PATHS[provider]
    params = parse_qs(parts.query)
    assert params["redirect_uri"] == [f"http://testserver/accounts/{provider}/login/callback/"]
    assert params["response_type"] == ["code"]
    assert params["state"][0]


@pytest.mark.parametrize("via", ["button", "api"])
def test_first_google_sign_in_creates_one_user_with_the_google_name_and_picture(
    oauth_stub: OAuthStub, via: str
) -> None:
    client = browser()
    response = sign_in(client, "google", via=via)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    user = User.objects.get()
    assert user.name == "Ada Lovelace"
    assert user.picture == "https://lh3.googleusercontent.com/a/ada"
    assert user.user_tag
    assert signed_in_user_id(client) == str(user.pk)
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "Ada Lovelace" in dashboard.content.decode()


@pytest.mark.parametrize("via", ["button", "api"])
def test_first_github_sign_in_creates_one_user_with_the_github_name_and_avatar(oauth_stub: OAuthStub, via: str) -> None:
    client = browser()
    response = sign_in(client, "github", via=via)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    user = User.objects.get()
    assert user.name == "The Octocat"
    assert user.picture == "https://avatars.githubusercontent.com/u/583231?v=4"
    assert signed_in_user_id(client) == str(user.pk)
    assert client.get("/dashboard").status_code == 200


def test_a_github_account_without_a_name_is_called_by_its_login(oauth_stub: OAuthStub) -> None:
    oauth_stub.github_identity.update(name=None, login="nameless-cat")
    client = browser()

    assert sign_in(client, "github")["Location"] == "/dashboard"
    user = User.objects.get()
    assert user.name == "nameless-cat"
    assert "nameless-cat" in client.get("/dashboard").content.decode()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_landing_page_buttons_sign_in_too(oauth_stub: OAuthStub, provider: str) -> None:
    client = browser()

    response = come_back(client, consent(start_with_button(client, provider, page_url="/")))

    assert response["Location"] == "/dashboard"
    assert signed_in_user_id(client) == str(User.objects.get().pk)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sign_in_returns_to_the_page_that_asked_for_it(oauth_stub: OAuthStub, provider: str) -> None:
    client = browser()
    login_url = client.get("/dashboard/chat/7")["Location"]

    response = come_back(client, consent(start_with_button(client, provider, page_url=login_url)))

    assert response["Location"] == "/dashboard/chat/7"
    assert signed_in_user_id(client) is not None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sign_in_never_sends_the_browser_to_another_site(oauth_stub: OAuthStub, provider: str) -> None:
    """An open redirect after sign-in would make Chatty's login page a phishing tool."""
    client = browser()

    response = come_back(
        client, consent(start_with_button(client, provider, page_url="/login?next=https://evil.example/"))
    )

    assert response["Location"] == "/dashboard"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_at_the_provider_signs_nobody_in(oauth_stub: OAuthStub, provider: str) -> None:
    client = browser()
    callback = consent(start_with_button(client, provider))

    response = come_back(client, callback, code=None, error="access_denied")

    assert signed_in_user_id(client) is None
    assert User.objects.count() == 0
    page = client.get(response["Location"]) if response.status_code == 302 else response
    assert page.status_code == 200
    assert "cancel" in page.content.decode().lower()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_signing_in_again_reaches_the_same_user(oauth_stub: OAuthStub, provider: str) -> None:
    """Google's `sub` and GitHub's `id` are the identity: one person, one Chatty user."""
    first = browser()
    sign_in(first, provider)
    user_id = signed_in_user_id(first)
    assert user_id is not None

    # Another browser, and the person changed their email at the provider meanwhile:
    # the account is known by Google's `sub` / GitHub's `id`, not by the email.
    set_identity(oauth_stub, provider, email="new-address@example.com")
    second = browser()
    response = sign_in(second, provider)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    assert signed_in_user_id(second) == user_id
    assert User.objects.count() == 1


def test_google_and_github_accounts_of_different_people_are_different_users(oauth_stub: OAuthStub) -> None:
    google_browser, github_browser = browser(), browser()
    sign_in(google_browser, "google")
    sign_in(github_browser, "github")

    assert User.objects.count() == 2
    assert signed_in_user_id(google_browser) != signed_in_user_id(github_browser)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("state", ["tampered", "missing", "from another browser"])
def test_a_callback_with_a_bad_state_signs_nobody_in(oauth_stub: OAuthStub, provider: str, state: str) -> None:
    """The state ties a callback to the browser that started it (no login CSRF, no forged returns)."""
    client = browser()
    callback = consent(start_with_button(client, provider))
    if state == "tampered":
        real = parse_qs(urlsplit(callback).query)["state"][0]
        response = come_back(client, callback, state=("y" if real[0] == "x" else "x") + real[1:])
    elif state == "missing":
        response = come_back(client, callback, state=None)
    else:
        # Login CSRF: an attacker's own callback link, opened in the victim's browser.
        victim = browser()
        victim.get("/login")
        client = victim
        response = come_back(victim, callback)

    assert "Login Failure" in response.content.decode()
    assert signed_in_user_id(client) is None
    assert client.get("/dashboard").status_code == 302
    assert User.objects.count() == 0
    # Refused before the code was spent: the provider never got a token request.
    assert oauth_stub.pkce_checks == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_callback_cannot_be_replayed(oauth_stub: OAuthStub, provider: str) -> None:
    """A callback URL left in history or a log must not sign anyone in again."""
    client = browser()
    callback = consent(start_with_button(client, provider))
    assert come_back(client, callback)["Location"] == "/dashboard"
    client.post("/accounts/logout/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert signed_in_user_id(client) is None

    response = come_back(client, callback)

    assert signed_in_user_id(client) is None
    assert "Login Failure" in response.content.decode()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_email_matching_a_local_account_does_not_sign_in_as_that_account(
    oauth_stub: OAuthStub, provider: str
) -> None:
    # The local account signs up through the page, so allauth records its address too.
    owner = browser()
    owner.get("/accounts/signup/")
    signed_up = owner.post(
        "/accounts/signup/",
        {
            "username": "ada",
            "email": "Shared@Example.com",
            "password1": "pw-local-123",
            "password2": "pw-local-123",
            "csrfmiddlewaretoken": owner.cookies["csrftoken"].value,
        },
    )
    assert signed_up["Location"] == "/dashboard"
    local = User.objects.get(username="ada")
    set_identity(oauth_stub, provider, email="shared@example.com")
    client = browser()

    sign_in(client, provider)

    assert signed_in_user_id(client) != str(local.pk)
    local.refresh_from_db()
    assert local.socialaccount_set.count() == 0
    assert local.name == "ada"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_email_matching_a_local_account_gets_its_own_account(oauth_stub: OAuthStub, provider: str) -> None:
    """The person at the provider still gets in, as a new user; the local account is untouched."""
    local = User.objects.create_user(username="ada", email="shared@example.com", password="pw-local-123", name="Ada")
    set_identity(oauth_stub, provider, email="shared@example.com")
    client = browser()

    response = sign_in(client, provider)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    user_id = signed_in_user_id(client)
    assert user_id is not None
    assert user_id != str(local.pk)
    assert User.objects.count() == 2
    # The local owner can still sign in with their password and is still themselves.
    owner = browser()
    owner.get("/login")
    owner.post(
        "/accounts/login/",
        {"login": "ada", "password": "pw-local-123", "csrfmiddlewaretoken": owner.cookies["csrftoken"].value},
    )
    assert signed_in_user_id(owner) == str(local.pk)


def test_api_auth_when_already_signed_in_goes_to_the_dashboard(oauth_stub: OAuthStub, make_user: Any) -> None:
    """A signed-in person who clicks a sign-in link again lands in the app, not at the provider."""
    client = browser()
    client.force_login(make_user())

    for provider in PROVIDERS:
        response = client.get(f"/api/auth/{provider}")
        assert response.status_code == 302
        assert response["Location"] == "/dashboard"
    assert oauth_stub.authorize_requests == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sign_in_uses_pkce(oauth_stub: OAuthStub, provider: str) -> None:
    """PKCE keeps an intercepted code useless; the stand-in checks the verifier like the real providers."""
    client = browser()
    sign_in(client, provider)

    [authorize] = oauth_stub.authorize_requests
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"]
    [check] = oauth_stub.pkce_checks
    assert check.code_challenge == authorize["code_challenge"]
    assert check.verifier_matched
    assert oauth_stub.token_errors == []
    assert signed_in_user_id(client) is not None


def test_a_stolen_google_code_without_the_verifier_is_useless(oauth_stub: OAuthStub) -> None:
    """PKCE protects a code that leaks: the stub refuses it without the right verifier."""
    callback = consent(start_with_button(browser(), "google"))
    code = parse_qs(urlsplit(callback).query)["code"][0]

    answer = requests.post(
        f"{oauth_stub.base_url}/google/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://testserver/accounts/google/login/callback/",
            "client_id": oauth_stub.google_client_id,
            "client_secret": oauth_stub.google_client_secret,
            "code_verifier": "not-the-verifier-" + "x" * 40,
        },
        timeout=10,
    )

    assert answer.status_code == 400
    assert oauth_stub.token_errors == ["invalid_grant"]


def one_tap(client: Client, id_token: str) -> Any:
    """Google's One Tap posts an id_token straight to allauth (double-submit CSRF cookie)."""
    client.cookies["g_csrf_token"] = "tap-csrf"
    return client.post("/accounts/google/login/token/", {"credential": id_token, "g_csrf_token": "tap-csrf"})


def test_a_google_id_token_signed_with_googles_published_key_signs_in(oauth_stub: OAuthStub) -> None:
    """The id_token is checked against the keys at CERTS_URL when it did not come from Google directly."""
    client = browser()

    response = one_tap(client, oauth_stub.id_token(oauth_stub.google_identity))

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    assert User.objects.get().name == "Ada Lovelace"
    assert signed_in_user_id(client) is not None


def test_a_forged_google_id_token_is_refused(oauth_stub: OAuthStub) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {
            "iss": "https://accounts.google.com",
            "aud": oauth_stub.google_client_id,
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
            **oauth_stub.google_identity,
        },
        other_key,
        algorithm="RS256",
        headers={"kid": GOOGLE_KID},
    )
    client = browser()

    one_tap(client, forged)

    assert signed_in_user_id(client) is None
    assert User.objects.count() == 0
