"""The sign-in pages as a visitor meets them: /login, /, allauth's sign-up and logout, 404s."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from accounts.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"


def browser() -> Client:
    """A browser of its own: it must send CSRF tokens, and its own address keeps allauth's
    per-IP rate limits (kept in a cache that outlives one test) from adding up across tests."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.9")


def csrf(client: Client, page: str = "/login") -> str:
    """Open a page with a form, as a visitor does before posting it; the token to send."""
    client.get(page)
    return client.cookies["csrftoken"].value


def signed_in_user_id(client: Client) -> str | None:
    answer = client.get("/api/auth/check-auth")
    return answer.json()["user"]["id"] if answer.status_code == 200 else None


def sign_up(client: Client, username: str, *, form_page: str = "/accounts/signup/", **extra: str) -> Any:
    token = csrf(client, form_page)
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD, "csrfmiddlewaretoken": token}
    return client.post("/accounts/signup/", {**data, **extra})


def local_user(make_user: Any) -> Any:
    """A local account with a known password; its username is new on every run, because
    allauth counts failed passwords per username in a cache that later runs may share."""
    user = make_user()
    user.set_password(PASSWORD)
    user.save()
    return user


def local_sign_in(client: Client, username: str, password: str = PASSWORD, next_url: str = "") -> Any:
    data = {"login": username, "password": password, "csrfmiddlewaretoken": csrf(client)}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def without_credentials(provider: str) -> dict[str, Any]:
    """SOCIALACCOUNT_PROVIDERS as if the operator had not set this provider's id and secret."""
    providers = {name: dict(config) for name, config in settings.SOCIALACCOUNT_PROVIDERS.items()}
    providers[provider].pop("APPS", None)
    return providers


def local_form_shown(text: str) -> bool:
    return 'action="/accounts/login/"' in text and 'name="password"' in text


@pytest.mark.parametrize("page", ["/login", "/"])
def test_sign_in_page_offers_both_providers_and_a_local_account(page: str) -> None:
    text = browser().get(page).content.decode()

    assert "Start with Google" in text
    assert "Start with GitHub" in text
    assert local_form_shown(text)
    assert 'href="/accounts/signup/"' in text


@pytest.mark.parametrize(("missing", "kept"), [("github", "Google"), ("google", "GitHub")])
def test_a_provider_without_credentials_has_no_button(missing: str, kept: str) -> None:
    """A button that can only fail would be worse than no button."""
    with override_settings(SOCIALACCOUNT_PROVIDERS=without_credentials(missing)):
        text = browser().get("/login").content.decode()

    assert f"Start with {kept}" in text
    label = {"github": "GitHub", "google": "Google"}[missing]
    assert f"Start with {label}" not in text
    assert f"/accounts/{missing}/login/" not in text
    assert local_form_shown(text)


@pytest.mark.parametrize("missing", ["github", "google"])
def test_a_provider_without_credentials_cannot_be_started_by_url(missing: str) -> None:
    """Old links to an unconfigured provider get a clear 404, not a crash."""
    client = browser()
    token = csrf(client)
    with override_settings(SOCIALACCOUNT_PROVIDERS=without_credentials(missing)):
        api = client.get(f"/api/auth/{missing}")
        page = client.post(f"/accounts/{missing}/login/", {"csrfmiddlewaretoken": token})

    assert api.status_code == 404
    assert api.json()["error"] == "not_found"
    # A friendly "not found" page, not a server error.
    assert page.status_code == 404
    assert "This page does not exist" in page.content.decode()


@override_settings(CHATTY_SOCIAL_ONLY=True)
def test_social_only_shows_just_the_provider_buttons() -> None:
    text = browser().get("/login").content.decode()

    assert "Start with Google" in text
    assert "Start with GitHub" in text
    assert not local_form_shown(text)
    assert "/accounts/signup/" not in text


@override_settings(CHATTY_SOCIAL_ONLY=True)
def test_social_only_refuses_local_sign_up() -> None:
    client = browser()
    assert "Sign Up Closed" in client.get("/accounts/signup/").content.decode()

    # Posting the form anyway (a token from /login, as the closed page has no form).
    response = sign_up(client, "mallory", form_page="/login")

    assert "Sign Up Closed" in response.content.decode()
    assert not User.objects.filter(username="mallory").exists()
    assert signed_in_user_id(client) is None


def test_social_only_refuses_a_local_password_even_a_right_one(make_user: Any) -> None:
    """Hiding the form is not enough: allauth's login URL still accepts a posted password."""
    user = local_user(make_user)
    client = browser()

    with override_settings(CHATTY_SOCIAL_ONLY=True):
        response = local_sign_in(client, user.username)

    assert signed_in_user_id(client) is None
    assert "Use Google or GitHub" in response.content.decode()
    # Turned back on, the same password works again: the account itself was never touched.
    assert local_sign_in(browser(), user.username)["Location"] == "/dashboard"


def test_social_only_without_providers_says_so() -> None:
    no_apps = {name: {"OAUTH_PKCE_ENABLED": True} for name in settings.SOCIALACCOUNT_PROVIDERS}
    with override_settings(CHATTY_SOCIAL_ONLY=True, SOCIALACCOUNT_PROVIDERS=no_apps):
        text = browser().get("/login").content.decode()

    assert "No sign-in method is configured" in text
    assert "Start with" not in text


def test_a_new_local_account_signs_up_and_reaches_the_dashboard() -> None:
    """Sign-up gives a display name and a userTag at once: friends can add the newcomer right away."""
    client = browser()

    response = sign_up(client, "zoe")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"
    user = User.objects.get(username="zoe")
    assert user.name == "zoe"
    assert re.fullmatch(r"zoe#\d{6}", user.user_tag)
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert user.user_tag in dashboard.content.decode()
    me = client.get("/api/user").json()
    assert (me["name"], me["userTag"]) == ("zoe", user.user_tag)


def test_sign_up_refuses_a_taken_username() -> None:
    sign_up(browser(), "zoe")
    client = browser()

    response = sign_up(client, "ZOE")

    assert response.status_code == 200
    assert "already" in response.content.decode()
    assert User.objects.count() == 1
    assert signed_in_user_id(client) is None


def test_local_sign_in_from_the_login_page(make_user: Any) -> None:
    user = local_user(make_user)
    client = browser()

    response = local_sign_in(client, user.username)

    assert response["Location"] == "/dashboard"
    assert signed_in_user_id(client) == str(user.pk)


def test_a_wrong_password_signs_nobody_in(make_user: Any) -> None:
    user = local_user(make_user)
    client = browser()

    response = local_sign_in(client, user.username, password="not-the-password")

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert signed_in_user_id(client) is None


def test_dashboard_sends_a_signed_out_visitor_to_login_and_back(make_user: Any) -> None:
    user = local_user(make_user)
    client = browser()

    response = client.get("/dashboard")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/dashboard"

    login_page = client.get(response["Location"]).content.decode()
    assert 'name="next" value="/dashboard"' in login_page
    assert local_sign_in(client, user.username, next_url="/dashboard")["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def test_login_page_sends_a_signed_in_user_to_the_dashboard(make_user: Any) -> None:
    client = browser()
    client.force_login(make_user())

    response = client.get("/login")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard"


def test_an_unknown_page_is_a_friendly_html_404() -> None:
    response = browser().get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "This page does not exist" in text
    assert 'href="/"' in text


def test_an_unknown_api_path_is_a_json_404() -> None:
    response = browser().get("/api/no-such-endpoint")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "not_found"


def test_logout_through_allauth_signs_out(make_user: Any) -> None:
    client = browser()
    client.force_login(make_user())
    token = csrf(client, "/dashboard")

    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == "/login"
    assert signed_in_user_id(client) is None
    assert client.get("/dashboard")["Location"].startswith("/login")


def test_opening_the_logout_link_alone_does_not_sign_out(make_user: Any) -> None:
    """A link or image pointing at /accounts/logout/ on another site must not sign people out."""
    client = browser()
    client.force_login(make_user())

    page = client.get("/accounts/logout/")

    assert page.status_code == 200
    assert "Are you sure you want to sign out?" in page.content.decode()
    assert signed_in_user_id(client) is not None


def test_allauth_pages_wear_chattys_frame() -> None:
    """allauth's own pages (sign-up, errors, logout) should look like the rest of Chatty."""
    text = browser().get("/accounts/signup/").content.decode()

    assert '<section class="card card-center allauth">' in text
    assert 'href="/static/css/chatty.css"' in text
    assert "· Chatty</title>" in text


def test_allauths_login_url_shows_chattys_sign_in_page(client, db):
    """People always read /login (with its provider buttons); allauth's form still posts."""
    response = client.get("/accounts/login/?next=/dashboard/chat/3")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2Fdashboard%2Fchat%2F3"
