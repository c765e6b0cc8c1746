"""Keyboard, screen-reader and zoom users (issue 15): axe-core over every page and dialog, the
phone sidebar and dialogs by keys, what live regions announce, reflow at 320 px with 200 % text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import FOCUSED, announced, axe_violations, describe, watch_live_regions
from tests.browser.conftest import DESKTOP, LIVE, PASSWORD, PHONE, connected, message, write

pytestmark = pytest.mark.django_db(transaction=True)

DIALOGS = ["add-friend-dialog", "new-chat-dialog", "settings-dialog", "logout-dialog"]


def open_dialog(page: Page, dialog_id: str) -> None:
    # The opener may sit in the closed phone sidebar: its click handler is what opens the dialog.
    page.evaluate("(id) => document.querySelector(`[data-open='${id}']`).click()", dialog_id)
    expect(page.locator(f"#{dialog_id}")).to_be_visible()


def close_dialog(page: Page, dialog_id: str) -> None:
    page.keyboard.press("Escape")
    expect(page.locator(f"#{dialog_id}")).to_be_hidden()


def assert_no_violations(page: Page, state: str, found: dict[str, str]) -> None:
    violations = axe_violations(page)
    if violations:
        found[state] = describe(violations)


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_no_wcag_21_aa_violation_on_any_page_or_dialog(live, viewport, locale):
    ana, ben, cho = live.user("Ana"), live.user("Ben"), live.user("Cho")
    live.befriend(ana, ben)
    live.befriend(ana, cho)
    room = live.room(ana, ben)
    live.room(ana, ben, cho)
    live.send(ben, room, "hello Ana")
    live.send(ana, room, "hi Ben")
    options = {"viewport": viewport, "locale": locale, "bypass_csp": True, "reduced_motion": "reduce"}
    found: dict[str, str] = {}

    page = live.page(ana, "/dashboard", **options)
    assert_no_violations(page, "dashboard", found)
    for dialog_id in DIALOGS:
        open_dialog(page, dialog_id)
        assert_no_violations(page, dialog_id, found)
        close_dialog(page, dialog_id)
    open_dialog(page, "add-friend-dialog")
    page.locator("#friend-tag").fill("nobody#00000")
    page.locator("#add-friend-dialog button[type=submit]").click()
    expect(page.locator("#add-friend-result.error")).not_to_be_empty()
    assert_no_violations(page, "add-friend error", found)
    close_dialog(page, "add-friend-dialog")

    page.goto(f"/dashboard/chat/{room.pk}")
    connected(page)
    assert_no_violations(page, "room", found)
    if viewport == PHONE:
        page.locator(".menu-button").click()
        expect(page.locator("#sidebar")).to_be_in_viewport()
        assert_no_violations(page, "room, sidebar open", found)
        page.keyboard.press("Escape")
    page.goto("/dashboard/settings")
    assert_no_violations(page, "settings page", found)

    out = live.context(**options).new_page()
    for path in ["/", "/login", "/accounts/signup/", "/accounts/password/reset/"]:
        out.goto(path)
        assert_no_violations(out, path, found)
    out.goto("/login")
    out.fill("#id_login", ana.username)
    out.fill("#id_password", "not the password")
    out.locator("form.local-login button[type=submit]").click()
    expect(out.locator("#sign-in-errors")).to_be_visible()
    assert_no_violations(out, "wrong password", found)

    assert not found, "axe found WCAG 2.1 A/AA violations:\n" + "\n".join(f"[{k}]\n{v}" for k, v in found.items())


def tab_until(page: Page, predicate: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches the CSS selector (by keys alone)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => !!document.activeElement && document.activeElement.matches(sel)", predicate):
            return
    raise AssertionError(f"Tab never reached {predicate}")


def test_on_a_phone_tab_reaches_only_visible_controls_and_stays_in_the_open_sidebar(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}", viewport=PHONE, reduced_motion="reduce")

    seen = []
    for _ in range(25):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        seen.append(focused["html"])
        assert focused["visible"], f"Tab reached a control that is not visible: {focused['html']}"
        assert not focused["inSidebar"], f"Tab reached the closed sidebar: {focused['html']}"
    assert any("composer-text" in html for html in seen)

    page.locator(".menu-button").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".menu-button")).to_have_attribute("aria-expanded", "true")
    assert page.evaluate(FOCUSED)["inSidebar"], "opening the sidebar moves focus into it"
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused is not None and (focused["inSidebar"] or focused["isMenu"]), f"focus left the sidebar: {focused}"
        assert focused["visible"], f"not visible: {focused['html']}"
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["inSidebar"] or focused["isMenu"], f"focus left the sidebar: {focused}"


def test_escape_closes_the_sidebar_and_dialogs_and_focus_returns_to_the_opener(live):
    ana = live.user("Ana")
    page = live.page(ana, viewport=PHONE, reduced_motion="reduce")
    menu = page.locator(".menu-button")
    sidebar = page.locator("#sidebar")

    menu.click()
    expect(sidebar).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sidebar).not_to_be_in_viewport()
    expect(menu).to_be_focused()

    # A tap on the dimmed page beside the open sidebar closes it too.
    menu.click()
    expect(sidebar).to_be_in_viewport()
    page.mouse.click(PHONE["width"] - 20, PHONE["height"] // 2)
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sidebar).not_to_be_in_viewport()

    # Dialogs opened from the sidebar give focus back to their opener on Escape.
    menu.click()
    add = page.get_by_role("button", name="Add friend")
    add.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#add-friend-dialog")).to_be_visible()
    expect(page.locator("#friend-tag")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#add-friend-dialog")).to_be_hidden()
    expect(add).to_be_focused()

    # Settings, then its logout dialog: Cancel (by keys) goes back to the card that opened settings.
    me = page.locator(".me-button")
    me.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#settings-dialog")).to_be_visible()
    page.locator("#settings-dialog [data-open=logout-dialog]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#logout-dialog")).to_be_visible()
    expect(page.locator("#settings-dialog")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#logout-dialog")).to_be_hidden()
    expect(me).to_be_focused()


def test_a_whole_flow_by_keys_alone(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    page = live.page(ana)
    ben_page = live.page(ben)

    # Add Ben by his tag.
    tab_until(page, "[data-open=add-friend-dialog]")
    page.keyboard.press("Enter")
    expect(page.locator("#friend-tag")).to_be_focused()
    page.keyboard.type(ben.user_tag)
    page.keyboard.press("Enter")
    expect(page.locator("#add-friend-result")).to_have_text("Ben is now your friend.")
    page.keyboard.press("Escape")
    expect(page.locator("#add-friend-dialog")).to_be_hidden()

    # Start the chat with him from the new-chat dialog.
    tab_until(page, "[data-open=new-chat-dialog]")
    page.keyboard.press("Enter")
    tab_until(page, "#new-chat-friends input[type=checkbox]")
    page.keyboard.press("Space")
    tab_until(page, "#new-chat-submit")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/chat/\d+$"))
    connected(page)

    # Send a message.
    tab_until(page, "#composer-text")
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Enter")
    expect(message(page, "typed without a mouse", mine=True)).to_have_count(1)
    ben_page.goto(page.url)
    connected(ben_page)
    expect(message(ben_page, "typed without a mouse", mine=False)).to_have_count(1)

    # Change status to away.
    tab_until(page, ".me-button")
    page.keyboard.press("Enter")
    expect(page.locator("#settings-dialog")).to_be_visible()
    tab_until(page, "#settings-dialog input[name=status]")
    page.keyboard.press("ArrowRight")  # radios: arrows move the choice
    expect(page.locator("#settings-dialog input[value=away]")).to_be_checked()
    expect(page.locator("#me-status")).to_contain_text("Away", timeout=LIVE)
    expect(ben_page.locator(f".dot-user-{ana.pk}").first).to_have_class(re.compile(r"\baway\b"), timeout=LIVE)

    # Log out.
    tab_until(page, "#settings-dialog [data-open=logout-dialog]")
    page.keyboard.press("Enter")
    expect(page.locator("#logout-dialog")).to_be_visible()
    tab_until(page, "#logout-dialog button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/(login)?$"))
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")


def test_live_regions_announce_others_messages_once_and_nothing_else(live):
    ana, ben, cho, dan = live.user("Ana"), live.user("Ben"), live.user("Cho"), live.user("Dan")
    for friend in (ben, cho, dan):
        live.befriend(ana, friend)
    room = live.room(ana, ben)
    other = live.room(cho, ana)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    watch_live_regions(page)

    # A friend coming online and going away: dots change, nothing is said.
    dan_page = live.page(dan)
    expect(page.locator(f"#friend-{dan.pk} .dot")).to_have_class(re.compile(r"\bonline\b"), timeout=LIVE)
    # One's own message: shown, never announced.
    write(page, "my own words")
    expect(message(page, "my own words", mine=True)).to_have_count(1)
    # Ben's message in this room: announced once.
    write(live.page(ben, f"/dashboard/chat/{room.pk}"), "a word from Ben")
    expect(message(page, "a word from Ben", mine=False)).to_have_count(1, timeout=LIVE)
    # Cho's message in another room: announced once, by name.
    write(live.page(cho, f"/dashboard/chat/{other.pk}"), "psst")
    expect(page.locator(f"#chat-{other.pk} .badge")).to_have_attribute("data-unread", "1", timeout=LIVE)
    dan_page.close()
    expect(page.locator(f"#friend-{dan.pk} .dot")).to_have_class(re.compile(r"\boffline\b"), timeout=20_000)

    said = [a["text"] for a in announced(page)]
    assert said == ["Ben: a word from Ben", "New message from Cho"], said


def test_an_incoming_message_on_the_dashboard_is_announced(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ben, ana)
    page = live.page(ana)
    watch_live_regions(page)
    write(live.page(ben, f"/dashboard/chat/{room.pk}"), "are you around?")
    expect(page.locator(f"#chat-{room.pk} .badge")).to_have_attribute("data-unread", "1", timeout=LIVE)
    expect(page.locator("#announcer")).to_have_text("New message from Ben")
    assert [a["text"] for a in announced(page)] == ["New message from Ben"]


REFLOW = {"width": 320, "height": 640}
WIDE = """() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  const sw = document.documentElement.scrollWidth;
  if (sw > vw) out.push("page scrolls sideways: " + sw);
  document.querySelectorAll("button, .msg .bubble, dialog[open]").forEach(el => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    if (!r.width || s.visibility === "hidden") return;
    if (el.closest("#sidebar") && !document.querySelector(".sidebar-open")) return;
    if (el.closest("dialog:not([open])")) return;
    const where = ` [${Math.round(r.left)}, ${Math.round(r.right)}]`;
    if (r.left < -0.5 || r.right > vw + 0.5) out.push(el.outerHTML.slice(0, 100) + where);
  });
  return out;
}"""


def zoom_text(page: Page) -> None:
    page.evaluate("document.documentElement.style.fontSize = '200%'")


def test_at_320_px_with_text_at_200_percent_nothing_is_wider_than_the_viewport(live):
    ana, ben = live.user("Ana Longname-Lastname"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    live.send(ben, room, "a fairly long message that has to wrap inside its bubble " * 3)
    live.send(ana, room, "https://example.com/a-long-unbroken-link-that-must-wrap-somewhere-inside")
    page = live.page(ana, f"/dashboard/chat/{room.pk}", viewport=REFLOW, reduced_motion="reduce")
    problems: dict[str, list[str]] = {}

    def check(state: str) -> None:
        found = page.evaluate(WIDE)
        if found:
            problems[state] = found

    for path in [f"/dashboard/chat/{room.pk}", "/dashboard", "/dashboard/settings"]:
        page.goto(path)
        connected(page)
        zoom_text(page)
        check(path)
    page.goto(f"/dashboard/chat/{room.pk}")
    connected(page)
    zoom_text(page)
    send = page.locator("#composer button[type=submit]")
    send.scroll_into_view_if_needed()
    expect(send).to_be_in_viewport(ratio=1)
    for dialog_id in DIALOGS:
        open_dialog(page, dialog_id)
        check(dialog_id)
        close_dialog(page, dialog_id)
    page.locator(".menu-button").click()
    expect(page.locator("#sidebar")).to_be_in_viewport()
    check("sidebar open")
    assert not problems, problems


def test_sign_in_flash_can_be_dismissed_and_covers_no_control_on_a_phone(live):
    ana = live.user("Ana")
    page = live.context(viewport=PHONE).new_page()
    page.goto("/login")
    page.fill("#id_login", ana.username)
    page.fill("#id_password", PASSWORD)
    page.locator("form.local-login button[type=submit]").click()
    page.wait_for_url("**/dashboard")
    connected(page)
    flash = page.locator(".flash")
    expect(flash).to_be_visible()
    menu = page.locator(".menu-button").bounding_box()
    box = flash.bounding_box()
    assert box["y"] >= menu["y"] + menu["height"], "the flash lies over the top bar"
    flash.get_by_role("button", name="Dismiss").click()
    expect(flash).to_have_count(0)
