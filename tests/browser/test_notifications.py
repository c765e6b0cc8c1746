"""Notifications in Chromium (SPEC §10): asked for from the settings switch, never on page
load; one browser notification per message per user whatever the number of tabs; none for a
muted room, for one's own messages or for the room in view; a click opens the room; the
favicon's dot while there are unread messages.

What is observed is the browser's own API: an init script counts `new Notification(...)` and
`Notification.requestPermission()` in each page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LIVE, connected, write

pytestmark = pytest.mark.django_db(transaction=True)

COUNT_NOTIFICATIONS = """
(() => {
  window.__notes = []; window.__noteObjects = []; window.__asked = 0;
  const Real = window.Notification;
  if (!Real) return;
  class Counted extends Real {
    constructor(title, options) {
      window.__notes.push({ title: title, body: options && options.body });
      super(title, options);
      window.__noteObjects.push(this);
    }
  }
  Object.defineProperty(Counted, "permission", { get: () => Real.permission });
  Counted.requestPermission = function () {
    window.__asked += 1;
    return Real.requestPermission.apply(Real, arguments);
  };
  window.Notification = Counted;
})();
"""


def notes(page) -> list[dict]:
    return page.evaluate("() => window.__notes")


def turn_on(page) -> None:
    page.locator(".me-button").click()
    switch = page.locator("#settings-dialog .notify-switch")
    expect(switch).to_be_visible()
    expect(switch).not_to_be_checked()
    switch.click()
    expect(switch).to_be_checked()
    expect(page.locator("#settings-dialog .notify-state")).to_contain_text("On:")
    page.locator("#settings-dialog [data-close]").first.click()


def test_one_notification_per_message_across_tabs_none_when_muted_own_or_in_view(live):
    from chats.services import room_mute

    ana, ben, cai = live.user("Ana"), live.user("Ben"), live.user("Cai")
    live.befriend(ana, ben)
    live.befriend(ana, cai)
    room = live.room(ana, ben)
    quiet = live.room(ana, cai)
    live.db(room_mute, user=ana, room_id=quiet.pk, muted=True)
    context = live.context(ana)
    context.grant_permissions(["notifications"])
    context.add_init_script(COUNT_NOTIFICATIONS)
    tabs = []
    for _ in range(2):
        tab = context.new_page()
        tab.goto("/dashboard")
        connected(tab)
        tabs.append(tab)
    turn_on(tabs[0])
    assert [t.evaluate("() => window.__asked") for t in tabs] == [0, 0]  # granted: nothing to ask
    bens = live.page(ben, f"/dashboard/chat/{room.pk}")
    cais = live.page(cai, f"/dashboard/chat/{quiet.pk}")

    def everywhere(room_id: int, text: str) -> None:
        for tab in tabs:
            expect(tab.locator(f"#chat-{room_id}-preview .chat-last")).to_have_text(text, timeout=LIVE)

    write(bens, "are you there, Ana?")
    everywhere(room.pk, "are you there, Ana?")
    counts = [len(notes(t)) for t in tabs]
    assert sorted(counts) == [0, 1], counts
    shown = next(t for t in tabs if notes(t))
    assert notes(shown) == [{"title": "Ben", "body": "are you there, Ana?"}]
    for tab in tabs:  # the favicon's dot
        expect(tab.locator("#favicon")).to_have_attribute("href", re.compile(r"favicon-unread"))

    write(cais, "a muted hello")
    everywhere(quiet.pk, "a muted hello")
    # Ana's own message, sent elsewhere (the form without JavaScript), is no news to her.
    tabs[0].evaluate(
        """async ([url, token]) => {
          const body = new URLSearchParams({ message: "my own words", csrfmiddlewaretoken: token });
          await fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": token } });
        }""",
        [
            f"/dashboard/chat/{room.pk}/send",
            tabs[0].locator("#open-chat-form input[name=csrfmiddlewaretoken]").get_attribute("value"),
        ],
    )
    everywhere(room.pk, "my own words")
    write(bens, "second question")
    everywhere(room.pk, "second question")
    assert sum(len(notes(t)) for t in tabs) == 2
    assert sorted(n["body"] for t in tabs for n in notes(t)) == ["are you there, Ana?", "second question"]

    # Clicking the notification opens the room.
    shown = next(t for t in tabs if notes(t))
    shown.evaluate("() => window.__noteObjects[0].dispatchEvent(new Event('click'))")
    expect(shown).to_have_url(re.compile(rf"/dashboard/chat/{room.pk}$"))
    connected(shown)
    other = next(t for t in tabs if t is not shown)
    before = len(notes(other))
    # The room is in view in that tab now: no notification in any tab.
    write(bens, "you are reading this")
    expect(shown.locator("#messages li.msg .text", has_text="you are reading this")).to_have_count(1, timeout=LIVE)
    expect(other.locator(f"#chat-{room.pk}-preview .chat-last")).to_have_text("you are reading this", timeout=LIVE)
    assert len(notes(other)) == before and notes(shown) == []


def test_the_switch_asks_for_permission_only_when_turned_on_and_is_remembered(live):
    ana = live.user("Ana")
    context = live.context(ana)
    context.add_init_script(COUNT_NOTIFICATIONS)
    page = context.new_page()
    page.goto("/dashboard")
    connected(page)
    assert page.evaluate("() => window.__asked") == 0  # never on page load
    page.locator(".me-button").click()
    switch = page.locator("#settings-dialog .notify-switch")
    switch.click()
    # Asked; the browser did not allow it (no grant in this context): the switch is off again.
    page.wait_for_function("() => window.__asked === 1")
    expect(switch).not_to_be_checked()
    expect(page.locator("#settings-dialog .notify-state")).to_contain_text("blocks notifications")
    # Allowed: on, and still on after a reload (and on the settings page).
    context.grant_permissions(["notifications"])
    switch.click()
    expect(switch).to_be_checked()
    page.goto("/dashboard/settings")
    expect(page.locator(".notify-switch")).to_be_checked()
    assert page.evaluate("() => window.__asked") == 0
    page.locator(".notify-switch").click()
    expect(page.locator(".notify-switch")).not_to_be_checked()
    page.reload()
    expect(page.locator(".notify-switch")).not_to_be_checked()


def test_korean_switch_and_the_favicon_without_unread(live):
    ana = live.user("Ana")
    page = live.page(ana, locale="ko-KR")
    expect(page.locator("#favicon")).to_have_attribute("href", re.compile(r"/favicon\.svg$"))
    page.locator(".me-button").click()
    expect(page.locator("#settings-dialog .notify-setting legend")).to_have_text("알림")
