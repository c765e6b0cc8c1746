"""The Content-Security-Policy in a real Chromium: the API reference page renders with no
violation, and the chat's websocket connects under `connect-src 'self'` (no ws:/wss: host
listed)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# Playwright's init scripts run outside the page's CSP: they can watch for its violations.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.effectiveDirective + " " + e.blockedURI);
});
"""


def _page(live, user=None):
    context = live.context(user)
    context.add_init_script(WATCH)
    return context.new_page()


def test_the_api_reference_renders_without_a_csp_violation(live):
    page = _page(live)
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/chat/chat-info" in [p.strip() for p in paths]
    page.locator(".opblock-summary", has_text="/api/chat/chat-info").first.click()
    page.wait_for_selector(".opblock-body", timeout=10_000)
    assert page.evaluate("window.__cspViolations") == []


def test_the_chat_socket_connects_under_connect_src_self(live):
    from tests.browser.conftest import connected

    alice = live.user("Alice")
    page = _page(live, alice)
    response = page.goto("/dashboard")
    assert "connect-src 'self';" in response.headers["content-security-policy"] + ";"
    connected(page)
    assert page.evaluate("window.__cspViolations") == []
