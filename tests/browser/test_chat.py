"""What people do in Chatty's pages, in a real browser against a real server."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LIVE, PASSWORD, PHONE, connected, message, write

pytestmark = pytest.mark.django_db(transaction=True)


def sign_up(page: Page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/dashboard")
    connected(page)


def test_two_people_sign_up_befriend_and_chat_live(live):
    ana_name, ben_name = f"ana_{secrets.token_hex(3)}", f"ben_{secrets.token_hex(3)}"
    ana = live.context().new_page()
    ben = live.context().new_page()
    sign_up(ana, ana_name)
    sign_up(ben, ben_name)
    ben_tag = ben.locator(".welcome .my-tag").inner_text()

    # Ana adds Ben by his tag in the add-friend dialog.
    ana.get_by_role("button", name="Add friend").click()
    dialog = ana.locator("#add-friend-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Their user tag").fill(ben_tag)
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(ana.locator("#add-friend-result")).to_have_text(f"{ben_name} is now your friend.")
    expect(ana.locator("#friend-list .friend-name")).to_have_text([ben_name])
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Ben sees Ana appear, live, with a toast; adding her back says they are friends already.
    expect(ben.locator("#friend-list .friend-name")).to_have_text([ana_name], timeout=LIVE)
    expect(ben.locator("#toasts .toast").filter(has_text=f"{ana_name} added you as a friend")).to_be_visible()
    expect(ben.locator("#friends-empty")).to_have_count(0)
    ben.get_by_role("button", name="Add friend").click()
    ben.locator("#friend-tag").fill(ana.locator(".welcome .my-tag").inner_text())
    ben.locator("#add-friend-dialog").get_by_role("button", name="Add", exact=True).click()
    expect(ben.locator("#add-friend-result")).to_have_text("You are already friends.")
    ben.locator("#add-friend-dialog").get_by_role("button", name="Close").click()

    # Ana starts a 1 on 1 chat in the new-chat dialog.
    ana.get_by_role("button", name="New chat").click()
    submit = ana.locator("#new-chat-submit")
    expect(submit).to_have_text("Pick a friend")
    expect(submit).to_be_disabled()
    ana.locator("#new-chat-dialog").get_by_label(ben_name).check()
    expect(submit).to_have_text("1 on 1 chat")
    submit.click()
    ana.wait_for_url(re.compile(r"/dashboard/chat/\d+$"))
    room_id = int(ana.url.rsplit("/", 1)[1])
    connected(ana)
    expect(ana.locator("#room-title")).to_have_text(ben_name)

    # Ben is told about the new chat, live, and opens it from his list.
    row = ben.locator(f"#chat-{room_id}")
    expect(row).to_contain_text(ana_name, timeout=LIVE)
    expect(ben.locator("#toasts .toast").filter(has_text=f"New chat: {ana_name}")).to_be_visible()
    row.get_by_role("link").click()
    ben.wait_for_url(f"**/dashboard/chat/{room_id}")
    connected(ben)

    # Messages go both ways without reloading; each sees their own on the right.
    write(ana, "Hi Ben!")
    expect(message(ana, "Hi Ben!", mine=True)).to_have_count(1)
    expect(message(ben, "Hi Ben!", mine=False)).to_have_count(1, timeout=LIVE)
    expect(message(ben, "Hi Ben!", mine=False).locator(".sender")).to_have_text(ana_name)
    write(ben, "Hello Ana")
    expect(message(ben, "Hello Ana", mine=True)).to_have_count(1)
    expect(message(ana, "Hello Ana", mine=False)).to_have_count(1, timeout=LIVE)
    expect(ana.locator("#messages li.pending")).to_have_count(0)

    # Own messages sit on the right, the others' on the left.
    mine_box = message(ana, "Hi Ben!").locator(".bubble").bounding_box()
    theirs_box = message(ana, "Hello Ana").locator(".bubble").bounding_box()
    assert mine_box["x"] + mine_box["width"] > theirs_box["x"] + theirs_box["width"]

    # A reload keeps the history, in order.
    ana.reload()
    connected(ana)
    expect(ana.locator("#messages li.msg .text")).to_have_text(["Hi Ben!", "Hello Ana"])
    expect(message(ana, "Hi Ben!", mine=True)).to_have_count(1)


def test_unread_badge_on_another_room_and_in_the_tab_title(live):
    ana, ben, cho = live.user("Ana"), live.user("Ben"), live.user("Cho")
    live.befriend(ana, ben)
    live.befriend(ana, cho)
    with_ben = live.room(ana, ben)
    with_cho = live.room(cho, ana)
    page = live.page(ana, f"/dashboard/chat/{with_ben.pk}")
    cho_page = live.page(cho, f"/dashboard/chat/{with_cho.pk}")
    badge = page.locator(f"#chat-{with_cho.pk} .badge")
    expect(badge).to_have_attribute("data-unread", "0")
    expect(page).to_have_title("Ben · Chatty")

    write(cho_page, "are you there?")
    expect(badge).to_have_attribute("data-unread", "1", timeout=LIVE)
    expect(badge).to_have_text("1 unread message1")
    expect(page.locator(f"#chat-{with_cho.pk} .chat-last")).to_have_text("are you there?")
    expect(page).to_have_title("(1) Ben · Chatty")
    write(cho_page, "hello?")
    expect(badge).to_have_attribute("data-unread", "2", timeout=LIVE)
    expect(page).to_have_title("(2) Ben · Chatty")
    # The room that is open counts nothing.
    expect(page.locator(f"#chat-{with_ben.pk} .badge")).to_have_attribute("data-unread", "0")

    page.locator(f"#chat-{with_cho.pk} a").click()
    page.wait_for_url(f"**/dashboard/chat/{with_cho.pk}")
    connected(page)
    expect(page.locator(f"#chat-{with_cho.pk} .badge")).to_have_attribute("data-unread", "0")
    expect(page.locator(f"#chat-{with_cho.pk} .badge")).to_have_class(re.compile(r"\bempty\b"))
    expect(page).to_have_title("Cho · Chatty")
    expect(page.locator("#messages li.msg .text")).to_have_text(["are you there?", "hello?"])


def test_friend_dot_turns_away_then_offline(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    page = live.page(ana)
    dot = page.locator(f"#friend-{ben.pk} .dot")
    expect(dot).to_have_class(re.compile(r"\boffline\b"))

    ben_page = live.page(ben)
    expect(dot).to_have_class(re.compile(r"\bonline\b"), timeout=LIVE)
    ben_page.locator(".me-button").click()
    settings = ben_page.locator("#settings-dialog")
    expect(settings).to_be_visible()
    settings.get_by_label("Away").check()
    expect(dot).to_have_class(re.compile(r"\baway\b"), timeout=LIVE)
    expect(ben_page.locator("#me-status")).to_contain_text("Away")

    # Closing the page: after the reconnect grace and a sweep, Ben is offline for Ana.
    ben_page.close()
    expect(dot).to_have_class(re.compile(r"\boffline\b"), timeout=20_000)
    expect(dot).to_have_attribute("aria-label", "Offline")


def test_composer_waits_for_the_room_to_be_joined(live):
    """The socket is up but the server's joinedChatroom is held back: the composer stays disabled."""
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    held: list[tuple] = []

    def hold_join(ws):
        server = ws.connect_to_server()

        def from_server(frame):
            if isinstance(frame, str) and '"joinedChatroom"' in frame:
                held.append((ws, frame))
                # Tell the test, through the page itself, that the join is being held.
                ws.send('<div hx-swap-oob="beforeend:#announcer"><span id="join-held"></span></div>')
            else:
                ws.send(frame)

        server.on_message(from_server)

    page = live.context(ana).new_page()
    page.route_web_socket(re.compile(r"/ws/ui/"), hold_join)
    page.goto(f"/dashboard/chat/{room.pk}")
    expect(page.locator("#join-held")).to_have_count(1)
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "online")
    expect(page.locator("#me-status")).to_contain_text("Online")  # the socket talks; the room is not joined
    expect(page.locator("#composer-text")).to_be_disabled()
    expect(page.locator("#composer button[type=submit]")).to_be_disabled()

    ws, frame = held[0]
    ws.send(frame)
    expect(page.locator("#composer-text")).to_be_enabled()
    expect(page.locator("#composer button[type=submit]")).to_be_enabled()
    write(page, "now I can write")
    expect(message(page, "now I can write", mine=True)).to_have_count(1)


def test_enter_sends_and_shift_enter_breaks_the_line(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    box = page.locator("#composer-text")
    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(page.locator("#messages li.msg")).to_have_count(0)
    page.keyboard.press("Enter")
    sent = page.locator("#messages li.msg.mine[data-id]")
    expect(sent).to_have_count(1)
    expect(sent.locator(".text")).to_have_text("first line\nsecond line", use_inner_text=True)
    expect(sent.locator(".text br")).to_have_count(1)
    expect(box).to_have_value("")
    stored = live.db(lambda: list(room.messages.values_list("text", flat=True)))
    assert stored == ["first line\nsecond line"]


def test_stored_xss_is_shown_as_text(live):
    ana, ben = live.user("Ana"), live.user("Ben <b>Lee</b>")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    payload = "<img src=x onerror=alert(1)>"
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    ben_page = live.page(ben, f"/dashboard/chat/{room.pk}")

    write(ben_page, payload)  # the live push
    expect(message(page, payload, mine=False)).to_have_count(1, timeout=LIVE)
    expect(message(page, payload, mine=False).locator(".sender")).to_have_text("Ben <b>Lee</b>")
    expect(page.locator(f"#chat-{room.pk} .chat-last")).to_have_text(payload)
    expect(message(ben_page, payload, mine=True)).to_have_count(1)
    assert page.locator("#app img, #app b").count() == 0

    page.reload()  # the server-rendered page
    connected(page)
    expect(message(page, payload, mine=False)).to_have_count(1)
    expect(page.locator("#room-title")).to_have_text("Ben <b>Lee</b>")
    assert page.locator("#app img, #app b").count() == 0
    dashboard = live.page(ana)
    expect(dashboard.locator(f"#chat-{room.pk} .chat-last")).to_have_text(payload)
    assert dashboard.locator("#app img, #app b").count() == 0
    assert dialogs == []


def test_without_javascript_sign_in_read_and_send_with_plain_forms(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    live.send(ben, room, "can you read this without scripts?")
    page = live.context(java_script_enabled=False).new_page()
    page.goto("/dashboard")
    page.wait_for_url("**/login?next=/dashboard")
    page.fill("#id_login", ana.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/dashboard")
    expect(page.locator(".welcome h1")).to_have_text("Hello, Ana")

    page.locator(f"#chat-{room.pk} a").click()
    page.wait_for_url(f"**/dashboard/chat/{room.pk}")
    expect(message(page, "can you read this without scripts?", mine=False)).to_have_count(1)
    page.fill("#composer-text", "yes, plainly")
    with page.expect_navigation():
        page.get_by_role("button", name="Send").click()
    assert page.url.endswith(f"/dashboard/chat/{room.pk}#composer")
    expect(message(page, "yes, plainly", mine=True)).to_have_count(1)
    expect(page.locator("#messages li.msg .text")).to_have_text(["can you read this without scripts?", "yes, plainly"])


def test_korean_browser_gets_korean_pages(live):
    ana = live.user("민수")
    page = live.page(ana, locale="ko-KR")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("#friends-heading")).to_have_text("친구")
    expect(page.locator("#chats-heading")).to_have_text("대화")
    expect(page.locator("#conn-state")).not_to_have_text("Connected")


def test_phone_width_has_a_menu_that_opens_the_sidebar(live):
    ana = live.user("Ana")
    page = live.page(ana, viewport=PHONE, reduced_motion="reduce")
    menu = page.locator(".menu-button")
    sidebar = page.locator("#sidebar")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sidebar).not_to_be_in_viewport()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_in_viewport()
    expect(page.locator("#friends-heading")).to_be_in_viewport()
    menu.click()
    expect(sidebar).not_to_be_in_viewport()


def test_desktop_width_has_no_menu_button(live):
    page = live.page(live.user("Ana"))
    expect(page.locator(".menu-button")).to_be_hidden()
    expect(page.locator("#sidebar")).to_be_in_viewport()
