"""A newcomer's rough edges (issue 13), each as a person meets it in Chromium."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LIVE, PASSWORD, PHONE, connected, message, write

pytestmark = pytest.mark.django_db(transaction=True)


def test_own_older_messages_stay_on_the_right_after_scrolling_up(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    for i in range(60):
        live.send(ana if i % 2 == 0 else ben, room, f"old {i}")
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    expect(page.locator("#messages li.msg[data-id]")).to_have_count(50)
    page.locator("#history").evaluate("el => { el.scrollTop = 0; }")
    expect(page.locator("#messages li.msg[data-id]")).to_have_count(60, timeout=LIVE)
    expect(message(page, "old 0", mine=True)).to_have_count(1)
    expect(message(page, "old 1", mine=False)).to_have_count(1)
    mine = page.locator("#messages li.msg.mine")
    expect(mine).to_have_count(30)
    # On the right, without one's own avatar.
    box = page.locator("#history").bounding_box()
    first = message(page, "old 0", mine=True).locator(".bubble").bounding_box()
    assert first["x"] + first["width"] > box["x"] + box["width"] * 0.6
    expect(message(page, "old 0", mine=True).locator(".avatar")).to_be_hidden()


def test_own_dot_in_the_room_header_shows_one_online(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    dot = page.locator(f".room-head .dot-user-{ana.pk}")
    expect(dot).to_have_class(re.compile(r"\bonline\b"))
    expect(dot).to_have_attribute("aria-label", "Online")
    page.locator(".me-button").click()
    page.locator("#settings-dialog").get_by_label("Away").check()
    expect(dot).to_have_class(re.compile(r"\baway\b"), timeout=LIVE)


def test_toasts_collapse_duplicates_leave_by_themselves_and_never_cover_the_composer(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    context = live.context(ana)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"/dashboard/chat/{room.pk}")
    connected(page)
    page.locator(".me-button").click()
    copy = page.locator("#settings-dialog [data-copy]")
    for _ in range(10):
        copy.click()
    toasts = page.locator("#toasts .toast")
    expect(toasts).to_have_count(1)
    expect(toasts).to_have_text("Copied")
    page.keyboard.press("Escape")
    toast, composer = toasts.bounding_box(), page.locator("#composer").bounding_box()
    assert toast["y"] + toast["height"] <= composer["y"] or toast["y"] >= composer["y"] + composer["height"]
    expect(toasts).to_have_count(0, timeout=LIVE)


def test_a_text_over_the_limit_is_refused_with_a_message_and_kept(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    box = page.locator("#composer-text")
    box.click()
    page.keyboard.insert_text("x" * 4001)  # what a paste does
    expect(box).to_have_value("x" * 4001)
    expect(page.locator("#composer-count")).to_have_text("4,001 of 4000 characters")
    page.keyboard.press("Enter")
    expect(page.locator("#composer-error")).to_have_text(
        "A message holds at most 4000 characters. Shorten it to send it."
    )
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_value("x" * 4001)
    expect(page.locator("#messages li.msg")).to_have_count(0)
    page.keyboard.press("Backspace")
    expect(page.locator("#composer-error")).to_have_text("")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li.msg[data-id]")).to_have_count(1)
    expect(page.locator("#composer-count")).to_be_hidden()


def test_a_failed_message_can_be_edited_or_discarded(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    refuse = {"on": True}

    def refuse_sends(ws):
        server = ws.connect_to_server()

        def from_page(frame):
            data = json.loads(frame) if isinstance(frame, str) and frame.startswith("{") else {}
            if refuse["on"] and data.get("type") == "sendMessage":
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "error": "too_long",
                            "detail": "A message holds at most 4000 characters.",
                            "ref": "sendMessage",
                            "clientId": data.get("clientId"),
                        }
                    )
                )
            else:
                server.send(frame)

        ws.on_message(from_page)

    page = live.context(ana).new_page()
    page.route_web_socket(re.compile(r"/ws/ui/"), refuse_sends)
    page.goto(f"/dashboard/chat/{room.pk}")
    connected(page)
    write(page, "first try")
    failed = page.locator("#messages li.msg.failed")
    expect(failed).to_have_count(1)
    expect(failed.get_by_role("button", name="Failed – retry")).to_have_count(0)  # refused for good
    failed.get_by_role("button", name="Edit").click()
    expect(failed).to_have_count(0)
    expect(page.locator("#composer-text")).to_have_value("first try")
    expect(page.locator("#composer-text")).to_be_focused()

    page.keyboard.press("Enter")
    expect(failed).to_have_count(1)
    failed.get_by_role("button", name="Discard").click()
    expect(page.locator("#messages li.msg")).to_have_count(0)

    refuse["on"] = False
    write(page, "second try")
    expect(message(page, "second try", mine=True)).to_have_count(1)
    assert live.db(lambda: list(room.messages.values_list("text", flat=True))) == ["second try"]


def test_without_javascript_settings_status_language_and_logout_work(live):
    ana = live.user("Ana")
    page = live.context(ana, java_script_enabled=False).new_page()
    page.goto("/dashboard")
    expect(page.locator("#conn-state")).to_have_text("")
    # Buttons that need a script (dialogs, the clipboard) are not offered; the plain forms are.
    expect(page.get_by_role("button", name="Add friend")).to_be_hidden()
    expect(page.get_by_role("button", name="Copy your tag")).to_have_count(0)
    page.locator(".me-button").click()
    page.wait_for_url("**/dashboard/settings")
    expect(page.locator("h1")).to_have_text("Settings")

    page.get_by_label("Away").check()
    page.get_by_role("button", name="Save status").click()
    page.wait_for_url("**/dashboard/settings")
    assert live.db(lambda: type(ana).objects.get(pk=ana.pk).chosen_status) == "away"
    expect(page.get_by_label("Away")).to_be_checked()

    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    page.get_by_role("button", name="로그아웃", exact=True).click()  # not "log out everywhere"
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")


def test_allauth_pages_look_like_the_sign_in_page_and_titles_match_headings(live):
    ana = live.user("Ana")
    page = live.context().new_page()
    page.goto("/login")
    page.fill("#id_login", ana.username)
    page.fill("#id_password", "wrong password")
    page.locator("form.local-login button[type=submit]").click()
    expect(page.locator("#sign-in-errors")).to_contain_text("not correct")
    expect(page).to_have_title("Sign in · Chatty")
    expect(page.locator("section.card.login form.local-login")).to_have_count(1)
    expect(page.locator("#id_login")).to_have_value(ana.username)
    page.fill("#id_password", PASSWORD)
    page.locator("form.local-login button[type=submit]").click()
    page.wait_for_url("**/dashboard")

    other = live.context().new_page()
    other.goto("/accounts/signup/")
    heading = other.locator("h1").inner_text().strip()
    expect(other).to_have_title(f"{heading} · Chatty")


def test_korean_send_button_stays_on_one_line_and_the_composer_grows(live):
    ana, ben = live.user("민수"), live.user("지민")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}", viewport=PHONE, locale="ko-KR")
    send = page.locator("#composer button[type=submit]")
    expect(send).to_have_text("보내기")
    lines = send.evaluate(
        "b => { const r = document.createRange(); r.selectNodeContents(b); return r.getClientRects().length; }"
    )
    assert lines == 1, "the Send button's label wraps"
    box = page.locator("#composer-text")
    before = box.bounding_box()["height"]
    box.click()
    for word in ("하나", "둘", "셋"):
        page.keyboard.type(word)
        page.keyboard.press("Shift+Enter")
    assert box.bounding_box()["height"] > before + 20


def test_stacked_group_avatars_show_every_letter_and_same_member_groups_differ(live):
    ana, ben, cho, dan = live.user("Ana"), live.user("Ben"), live.user("Cho"), live.user("Dan")
    for friend in (ben, cho, dan):
        live.befriend(ana, friend)
    first = live.room(ana, ben, cho, dan)
    second = live.room(ana, ben, cho, dan)
    page = live.page(ana)
    avatars = page.locator(f"#chat-{first.pk} .stack .avatar")
    expect(avatars).to_have_count(3)
    covered = avatars.evaluate_all(
        """els => els.filter(el => {
          const r = el.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return !el.contains(hit);
        }).map(el => el.textContent)"""
    )
    assert covered == [], f"letters covered by the next avatar: {covered}"

    def looks(room_id: int) -> tuple:
        row = page.locator(f"#chat-{room_id}")
        colour = row.locator(".stack .avatar").first.evaluate("el => getComputedStyle(el).backgroundColor")
        return row.inner_text(), colour

    expect(page.locator(f"#chat-{first.pk} .chat-meta")).to_contain_text("4 people")
    assert looks(first.pk) != looks(second.pk)


def test_a_bare_name_in_add_friend_gets_a_hint_of_the_tag_form(live):
    ana = live.user("Ana")
    page = live.page(ana)
    page.get_by_role("button", name="Add friend").click()
    field = page.locator("#friend-tag")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"friend-tag-hint"))
    field.fill("bob")
    page.locator("#add-friend-dialog button[type=submit]").click()
    result = page.locator("#add-friend-result")
    expect(result).to_contain_text("minsu#12345")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"add-friend-result"))
    field.fill("nobody#00000")
    page.locator("#add-friend-dialog button[type=submit]").click()
    expect(result).to_have_text("No one has that user tag.")
    expect(field).to_have_attribute("aria-invalid", "true")


def test_the_typing_line_goes_when_the_message_arrives(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    ben_page = live.page(ben, f"/dashboard/chat/{room.pk}")
    ben_page.locator("#composer-text").click()
    ben_page.keyboard.type("on my way")
    expect(page.locator("#typing")).to_have_text("Ben is typing…", timeout=LIVE)
    ben_page.keyboard.press("Enter")
    expect(message(page, "on my way", mine=False)).to_have_count(1, timeout=LIVE)
    assert page.locator("#typing").inner_text() == ""


def test_a_friend_in_the_rail_opens_the_chat_with_them(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    page = live.page(ana)
    page.locator(f"#friend-{ben.pk}").get_by_role("button").click()
    page.wait_for_url(re.compile(r"/dashboard/chat/\d+$"))
    connected(page)
    expect(page.locator("#room-title")).to_have_text("Ben")
    room_id = int(page.url.rsplit("/", 1)[1])
    page.goto("/dashboard")
    connected(page)
    page.locator(f"#friend-{ben.pk}").get_by_role("button").click()
    page.wait_for_url(f"**/dashboard/chat/{room_id}")


def test_a_group_member_who_is_not_a_friend_has_a_live_dot_in_the_room_header(live):
    ana, ben, cy = live.user("Ana"), live.user("Ben"), live.user("Cy")
    live.befriend(ana, ben)
    live.befriend(ana, cy)  # Ben and Cy are not friends: they only share Ana's group
    room = live.room(ana, ben, cy)
    page = live.page(ben, f"/dashboard/chat/{room.pk}")
    dot = page.locator(f".room-head .dot-user-{cy.pk}")
    expect(dot).to_have_class(re.compile(r"\boffline\b"))
    cy_page = live.page(cy, "/dashboard")
    expect(dot).to_have_class(re.compile(r"\bonline\b"), timeout=LIVE)
    expect(dot).to_have_attribute("aria-label", "Online")
    cy_page.context.close()
    expect(dot).to_have_class(re.compile(r"\boffline\b"), timeout=LIVE)
