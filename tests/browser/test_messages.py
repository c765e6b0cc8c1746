"""The message's page side (SPEC §9): its menu, editing, deleting, replies, reactions, mark
unread, read receipts, the "New messages" line and grouping, with two people in two browsers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import axe_violations, describe
from tests.browser.conftest import DESKTOP, LIVE, PHONE, message, write

pytestmark = pytest.mark.django_db(transaction=True)

# The first message after the "New messages" line (a day's separator may come between).
FIRST_UNREAD = "#messages .unread-line + li.msg .text, #messages .unread-line + li.day + li.msg .text"


def pair(live, *names: str):
    """Friends (the first with each of the others) and their room."""
    people = [live.user(name) for name in names]
    for other in people[1:]:
        live.befriend(people[0], other)
    if len(people) > 2:
        for i, a in enumerate(people[1:], 1):
            for b in people[i + 1 :]:
                live.befriend(a, b)
    return (*people, live.room(people[0], *people[1:]))


def open_room(live, user, room, **options) -> Page:
    return live.page(user, f"/dashboard/chat/{room.pk}", **options)


def menu_of(page: Page, msg):
    """Open the message's menu the way a mouse does: hover, then its "⋯"."""
    msg.hover()
    msg.locator(".msg-more").click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    return menu


def test_edit_in_place_shows_the_new_text_and_edited_on_both_pages(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "first draft")
    a, b = open_room(live, ana, room), open_room(live, ben, room)
    mine = message(a, "first draft", mine=True)
    expect(mine.locator(".msg-actions")).to_be_hidden()  # the no-JS forms give way to the menu

    # Escape leaves the text as it was.
    menu_of(a, mine).get_by_role("menuitem", name="Edit").click()
    box = mine.get_by_role("textbox", name="Edit message")
    expect(box).to_be_focused()
    expect(box).to_have_value("first draft")
    box.fill("never sent")
    box.press("Escape")
    expect(box).to_have_count(0)
    expect(mine.locator(".text")).to_have_text("first draft")

    menu_of(a, mine).get_by_role("menuitem", name="Edit").click()
    box.fill("the final **text**")
    box.press("Enter")
    edited = message(a, "the final text", mine=True)
    expect(edited.locator(".edited")).to_have_text("edited", timeout=LIVE)
    expect(edited.locator(".text strong")).to_have_text("text")
    theirs = message(b, "the final text", mine=False)
    expect(theirs.locator(".edited")).to_have_text("edited", timeout=LIVE)
    expect(message(b, "first draft")).to_have_count(0)
    # The editor opens on the text as typed, not as shown.
    menu_of(a, edited).get_by_role("menuitem", name="Edit").click()
    expect(edited.get_by_role("textbox", name="Edit message")).to_have_value("the final **text**")
    edited.get_by_role("button", name="Cancel").click()
    expect(edited.get_by_role("textbox")).to_have_count(0)


def test_delete_asks_first_then_the_message_is_gone_from_both_pages(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "oops, wrong chat")
    live.send(ben, room, "hello")
    a, b = open_room(live, ana, room), open_room(live, ben, room)
    mine = message(a, "oops, wrong chat", mine=True)
    # Others' messages have no Edit or Delete.
    menu = menu_of(a, message(a, "hello", mine=False))
    expect(menu.get_by_role("menuitem")).to_have_text(["Reply", "React", "Mark unread"])
    a.keyboard.press("Escape")
    expect(menu).to_be_hidden()

    menu_of(a, mine).get_by_role("menuitem", name="Delete").click()
    dialog = a.get_by_role("dialog", name="Delete this message?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("oops, wrong chat")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(mine).to_have_count(1)

    menu_of(a, mine).get_by_role("menuitem", name="Reply").click()
    expect(a.locator("#reply-bar")).to_be_visible()
    menu_of(a, mine).get_by_role("menuitem", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(mine).to_have_count(0, timeout=LIVE)
    expect(a.locator("#reply-bar")).to_be_hidden()  # no reply to a message that is gone
    expect(message(b, "oops, wrong chat")).to_have_count(0, timeout=LIVE)
    expect(message(b, "hello")).to_have_count(1)


def test_a_reply_shows_its_quote_and_the_quote_leads_to_a_parent_on_an_older_page(live):
    from chats.services import message_send

    ana, ben, room = pair(live, "Ana", "Ben")
    parent = live.send(ben, room, "the very first question")
    for i in range(120):  # three pages of history between the parent and the newest
        live.send(ana if i % 2 else ben, room, f"filler {i}")
    live.db(message_send, sender=ana, room_id=room.pk, text="answering that at last", reply_to_id=parent.pk)
    live.send(ben, room, "what time?")
    a, b = open_room(live, ana, room), open_room(live, ben, room)

    # Reply from the menu: the bar says to whom, × cancels, a send carries the quote.
    menu_of(a, message(a, "what time?", mine=False)).get_by_role("menuitem", name="Reply").click()
    bar = a.locator("#reply-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("Replying to Ben: what time?")
    expect(a.locator("#composer-text")).to_be_focused()
    bar.get_by_role("button", name="Cancel reply").click()
    expect(bar).to_be_hidden()
    menu_of(a, message(a, "what time?", mine=False)).get_by_role("menuitem", name="Reply").click()
    write(a, "noon")
    expect(bar).to_be_hidden()
    reply = message(b, "noon", mine=False)
    expect(reply.locator(".reply-to")).to_contain_text("Ben what time?", timeout=LIVE)
    expect(message(a, "noon", mine=True).locator(".reply-to")).to_contain_text("what time?", timeout=LIVE)

    # The quote of a parent that is pages away: older pages load until it is there, highlighted.
    expect(message(b, "the very first question")).to_have_count(0)
    quote = message(b, "answering that at last", mine=False).locator(".reply-to a")
    expect(quote).to_contain_text("the very first question")
    quote.click()
    first = message(b, "the very first question", mine=True)
    expect(first).to_have_count(1, timeout=LIVE)
    expect(first).to_have_class(re.compile(r"\bflash\b"))
    expect(first).to_be_in_viewport()
    # Pages loaded from history are grouped too: Ben's next message joins his run.
    expect(message(b, "filler 0", mine=True)).to_have_class(re.compile(r"\bgrouped\b"))
    expect(first).not_to_have_class(re.compile(r"\bgrouped\b"))


def test_reactions_count_on_both_pages_own_highlighted_and_a_chip_toggles(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "we won!")
    a, b = open_room(live, ana, room), open_room(live, ben, room)
    on_a, on_b = message(a, "we won!", mine=True), message(b, "we won!", mine=False)

    menu_of(a, on_a).get_by_role("menuitem", name="React").click()
    picker = a.get_by_role("menu", name="Pick a reaction")
    expect(picker.get_by_role("menuitem")).to_have_count(8)
    picker.get_by_role("menuitem", name="React with 🎉").click()
    expect(picker).to_be_hidden()
    chip_a, chip_b = on_a.locator(".reactions li"), on_b.locator(".reactions li")
    expect(chip_a).to_have_text(["🎉 1"], timeout=LIVE)
    expect(chip_b).to_have_text(["🎉 1"], timeout=LIVE)
    expect(chip_a).to_have_class("mine")
    expect(chip_b).not_to_have_class("mine")
    expect(on_a.locator("button[data-react='🎉']")).to_have_attribute("aria-pressed", "true")

    # Ben joins in with the chip; each page highlights its own.
    on_b.locator("button[data-react='🎉']").click()
    expect(chip_b).to_have_text(["🎉 2"], timeout=LIVE)
    expect(chip_a).to_have_text(["🎉 2"], timeout=LIVE)
    expect(chip_b).to_have_class("mine")

    # An edit redraws the message: Ben's own reaction stays his own on his page, not Ana's.
    menu_of(a, on_a).get_by_role("menuitem", name="Edit").click()
    on_a.get_by_role("textbox", name="Edit message").fill("we won the cup!")
    on_a.get_by_role("textbox", name="Edit message").press("Enter")
    on_b = message(b, "we won the cup!", mine=False)
    expect(on_b.locator(".edited")).to_be_visible(timeout=LIVE)
    expect(on_b.locator(".reactions li")).to_have_text(["🎉 2"])
    expect(on_b.locator(".reactions li")).to_have_class("mine")
    on_a = message(a, "we won the cup!", mine=True)
    expect(on_a.locator(".reactions li")).to_have_class("mine")

    # Ana takes hers back: one left, Ben's, highlighted on his page only.
    on_a.locator("button[data-react='🎉']").click()
    expect(on_a.locator(".reactions li")).to_have_text(["🎉 1"], timeout=LIVE)
    expect(on_a.locator(".reactions li")).not_to_have_class("mine")
    expect(on_b.locator(".reactions li")).to_have_text(["🎉 1"], timeout=LIVE)
    expect(on_b.locator(".reactions li")).to_have_class("mine")


def test_mark_unread_brings_the_badge_back_and_it_stays_after_the_page_closes(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "one")
    live.send(ana, room, "two")
    a, b = open_room(live, ana, room), open_room(live, ben, room)
    badge = b.locator(f"#chat-{room.pk}-badge")
    expect(badge).to_have_attribute("data-unread", "0")
    menu_of(b, message(b, "one", mine=False)).get_by_role("menuitem", name="Mark unread").click()
    expect(badge).to_have_attribute("data-unread", "2", timeout=LIVE)
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("2")
    bar = b.locator(".unread-paused")
    expect(bar).to_contain_text("Marked as unread")
    # While it is unread, what comes counts as unread too, and does not show until read.
    write(a, "three")
    expect(badge).to_have_attribute("data-unread", "3", timeout=LIVE)
    expect(message(b, "three")).to_have_count(0)
    # Another tab shows it, and closing the room's page does not read it.
    dash = live.page(ben)
    dash_badge = dash.locator(f"#chat-{room.pk}-badge")
    expect(dash_badge).to_have_attribute("data-unread", "3")
    b.close()
    write(a, "four")
    expect(dash_badge).to_have_attribute("data-unread", "4", timeout=LIVE)
    # Back in the room: read, with the line where Ben marked it.
    b = open_room(live, ben, room)
    expect(b.locator(FIRST_UNREAD)).to_have_text("one")
    expect(b.locator(f"#chat-{room.pk}-badge")).to_have_attribute("data-unread", "0")
    expect(dash_badge).to_have_attribute("data-unread", "0", timeout=LIVE)
    # "Mark as read" on the bar brings what came meanwhile.
    menu_of(b, message(b, "three", mine=False)).get_by_role("menuitem", name="Mark unread").click()
    expect(dash_badge).to_have_attribute("data-unread", "2", timeout=LIVE)
    write(a, "five")
    expect(dash_badge).to_have_attribute("data-unread", "3", timeout=LIVE)
    b.locator(".unread-paused").get_by_role("button", name="Mark as read").click()
    expect(message(b, "five", mine=False)).to_have_count(1, timeout=LIVE)
    expect(b.locator(".unread-paused")).to_be_hidden()
    expect(dash_badge).to_have_attribute("data-unread", "0", timeout=LIVE)
    # Writing from a room marked unread joins it again: the message shows, sent.
    menu_of(b, message(b, "five", mine=False)).get_by_role("menuitem", name="Mark unread").click()
    expect(dash_badge).to_have_attribute("data-unread", "1", timeout=LIVE)
    write(a, "six")
    expect(dash_badge).to_have_attribute("data-unread", "2", timeout=LIVE)
    write(b, "back now")
    expect(message(b, "back now", mine=True)).to_have_count(1, timeout=LIVE)
    expect(b.locator("#messages li.pending")).to_have_count(0)
    expect(message(b, "six", mine=False)).to_have_count(1)
    expect(b.locator(".unread-paused")).to_be_hidden()
    expect(dash_badge).to_have_attribute("data-unread", "0", timeout=LIVE)


def test_seen_shows_live_for_the_sender_in_a_direct_room(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ben, room, "hi")
    a, b = open_room(live, ana, room), open_room(live, ben, room)
    write(a, "are you there?")
    mine = message(a, "are you there?", mine=True)
    expect(message(b, "are you there?", mine=False)).to_have_count(1, timeout=LIVE)
    # Ben's page has it on screen: it says so, and Ana sees "Seen" under it without reloading.
    expect(mine.locator(".receipt")).to_have_text("Seen", timeout=LIVE)
    expect(a.locator(".receipt")).to_have_count(1)
    # The next one is not seen until Ben's tab is back.
    b.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    write(a, "hello?")
    expect(message(b, "hello?", mine=False)).to_have_count(1, timeout=LIVE)
    expect(message(a, "hello?", mine=True)).to_have_count(1)
    expect(mine.locator(".receipt")).to_have_text("Seen")
    b.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expect(message(a, "hello?", mine=True).locator(".receipt")).to_have_text("Seen", timeout=LIVE)
    expect(mine.locator(".receipt")).to_have_count(0)
    # A reload draws it from the read positions.
    a.reload()
    expect(message(a, "hello?", mine=True).locator(".receipt")).to_have_text("Seen")


def test_seen_by_counts_the_readers_of_a_group_and_names_them(live):
    ana, ben, cho, room = pair(live, "Ana", "Ben", "Cho")
    a = open_room(live, ana, room)
    write(a, "lunch at noon?")
    mine = message(a, "lunch at noon?", mine=True)
    expect(mine).to_have_count(1)
    expect(a.locator(".receipt")).to_have_count(0)
    open_room(live, ben, room)
    expect(mine.locator(".receipt")).to_contain_text("Seen by 1", timeout=LIVE)
    open_room(live, cho, room)
    receipt = mine.locator(".receipt")
    expect(receipt).to_contain_text("Seen by 2", timeout=LIVE)
    expect(receipt).to_have_attribute("title", re.compile(r"^(Ben, Cho|Cho, Ben)$"))
    expect(receipt.locator(".sr-only")).to_have_text(re.compile(r"Ben"))  # the names for screen readers too
    a.reload()
    expect(message(a, "lunch at noon?", mine=True).locator(".receipt")).to_contain_text("Seen by 2")


def test_new_messages_line_marks_where_the_reader_left_off(live):
    from chats.services import read_mark

    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "read already")
    live.db(read_mark, user=ben, room_id=room.pk)
    live.send(ana, room, "new one")
    for i in range(30):  # more than a screen: the room opens at the line
        live.send(ana, room, f"more {i}")
    live.send(ana, room, "new two")
    b = open_room(live, ben, room)
    line = b.locator("#messages .unread-line")
    expect(line).to_have_text("New messages")
    after = b.evaluate(
        """() => { let n = document.querySelector("#messages .unread-line").nextElementSibling;
                   while (n && !n.matches("li.msg")) n = n.nextElementSibling;
                   return n.querySelector(".text").textContent.trim(); }"""
    )
    assert after == "new one"
    expect(line).to_be_in_viewport()
    expect(message(b, "new two")).not_to_be_in_viewport()
    b.reload()  # read now: no line, and the room opens at its end
    expect(message(b, "new two")).to_be_in_viewport()
    expect(b.locator(".unread-line")).to_have_count(0)


def test_one_senders_run_shows_one_name_and_avatar(live):
    from chats.models import Message

    ana, ben, room = pair(live, "Ana", "Ben")
    early = live.send(ana, room, "an hour ago")
    live.db(lambda: Message.objects.filter(pk=early.pk).update(created_at=early.created_at - dt.timedelta(hours=1)))
    for text in ("first", "second", "third"):
        live.send(ana, room, text)
    live.send(ben, room, "mine")
    b = open_room(live, ben, room)
    for text, grouped in (("an hour ago", False), ("first", False), ("second", True), ("third", True)):
        msg = message(b, text, mine=False)
        if grouped:
            expect(msg).to_have_class(re.compile(r"\bgrouped\b"))
            assert msg.locator(".bubble > .sender").bounding_box()["width"] <= 1  # for screen readers only
            expect(msg.locator(":scope > .avatar")).to_have_css("visibility", "hidden")
        else:
            expect(msg).not_to_have_class(re.compile(r"\bgrouped\b"))
            assert msg.locator(".bubble > .sender").bounding_box()["width"] > 10
    expect(message(b, "mine", mine=True)).not_to_have_class(re.compile(r"\bgrouped\b"))
    # Live ones join the run too.
    a = open_room(live, ana, room)
    write(a, "fourth")
    write(a, "fifth")
    expect(message(b, "fifth", mine=False)).to_have_class(re.compile(r"\bgrouped\b"), timeout=LIVE)
    expect(message(b, "fourth", mine=False)).not_to_have_class(re.compile(r"\bgrouped\b"))


def test_the_menu_by_keyboard_and_on_a_phone(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ben, room, "tap me")
    a = open_room(live, ana, room)
    msg = message(a, "tap me", mine=False)
    more = msg.get_by_role("button", name="Message actions")
    more.focus()
    expect(more).to_be_visible()
    a.keyboard.press("Enter")
    menu = a.get_by_role("menu", name="Message actions")
    expect(menu.get_by_role("menuitem", name="Reply")).to_be_focused()
    a.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="React")).to_be_focused()
    a.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(more).to_be_focused()

    phone = open_room(live, ana, room, viewport=PHONE, has_touch=True, is_mobile=True)
    msg = message(phone, "tap me", mine=False)
    msg.get_by_role("button", name="Message actions").tap()
    menu = phone.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(menu).to_be_in_viewport()
    phone.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    # A long press on the message opens it too.
    box = msg.locator(".text").bounding_box()
    cdp = phone.context.new_cdp_session(phone)
    point = [{"x": box["x"] + 5, "y": box["y"] + box["height"] / 2}]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point})
    expect(menu).to_be_visible()
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(menu.get_by_role("menuitem", name="Mark unread")).to_be_visible()


def test_the_menu_speaks_korean(live):
    ana, ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "안녕")
    live.send(ben, room, "반가워")
    a = open_room(live, ana, room, locale="ko-KR")
    menu = menu_of(a, message(a, "안녕", mine=True))
    expect(menu).to_have_attribute("aria-label", "메시지 메뉴")
    expect(menu.get_by_role("menuitem")).to_have_text(["답장", "반응", "수정", "삭제"])
    menu.get_by_role("menuitem", name="반응").click()
    expect(a.get_by_role("menu", name="반응 고르기")).to_be_visible()
    a.keyboard.press("Escape")
    menu = menu_of(a, message(a, "반가워", mine=False))
    expect(menu.get_by_role("menuitem")).to_have_text(["답장", "반응", "안 읽음으로 표시"])
    menu.get_by_role("menuitem", name="답장").click()
    expect(a.locator("#reply-bar")).to_contain_text("Ben님에게 답장: 반가워")


def test_without_javascript_edit_and_delete_still_work(live):
    ana, _ben, room = pair(live, "Ana", "Ben")
    live.send(ana, room, "typo here")
    live.send(ana, room, "delete me")
    page = live.context(ana, java_script_enabled=False).new_page()
    page.goto(f"/dashboard/chat/{room.pk}")
    expect(page.locator(".msg-more")).to_have_count(0)
    msg = message(page, "typo here", mine=True)
    msg.locator("summary").click()
    msg.get_by_role("textbox", name="Message").fill("no typo here")
    msg.get_by_role("button", name="Save").click()
    fixed = message(page, "no typo here", mine=True)
    expect(fixed.locator(".edited")).to_have_text("edited")
    gone = message(page, "delete me", mine=True)
    gone.locator("summary").click()
    gone.get_by_role("button", name="Delete").click()
    expect(message(page, "delete me")).to_have_count(0)
    expect(message(page, "no typo here")).to_have_count(1)


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_in_the_menu_picker_editor_dialog_reply_bar_and_receipts(live, viewport, locale):
    from chats.services import message_send, reaction_toggle

    ana, ben, _cho, room = pair(live, "Ana", "Ben", "Cho")
    parent = live.send(ben, room, "hello Ana")
    mine = live.db(message_send, sender=ana, room_id=room.pk, text="hi Ben", reply_to_id=parent.pk)[0]
    live.db(reaction_toggle, user=ben, message_id=mine.pk, emoji="👍")
    live.db(reaction_toggle, user=ana, message_id=parent.pk, emoji="🎉")
    open_room(live, ben, room)  # Ben reads: a receipt under Ana's message
    page = open_room(live, ana, room, viewport=viewport, locale=locale, bypass_csp=True, reduced_motion="reduce")
    expect(page.locator(".receipt")).to_have_count(1)
    found: dict[str, str] = {}

    def check(state: str) -> None:
        violations = axe_violations(page)
        if violations:
            found[state] = describe(violations)

    check("room")
    msg = page.locator(f"#msg-{mine.pk}")
    msg.locator(".msg-more").click()
    expect(page.locator("#msg-menu")).to_be_visible()
    check("menu")
    page.locator("#msg-menu [role=menuitem]").nth(1).click()  # React
    expect(page.locator("#msg-menu.picker")).to_be_visible()
    check("picker")
    page.keyboard.press("Escape")
    msg.locator(".msg-more").click()
    page.locator("#msg-menu [role=menuitem]").nth(2).click()  # Edit
    expect(msg.locator(".edit-box textarea")).to_be_focused()
    check("editor")
    page.keyboard.press("Escape")
    msg.locator(".msg-more").click()
    page.locator("#msg-menu [role=menuitem]").nth(3).click()  # Delete
    expect(page.locator("#delete-dialog")).to_be_visible()
    check("delete dialog")
    page.keyboard.press("Escape")
    expect(page.locator("#delete-dialog")).to_be_hidden()
    msg.locator(".msg-more").click()
    page.locator("#msg-menu [role=menuitem]").nth(0).click()  # Reply
    expect(page.locator("#reply-bar")).to_be_visible()
    check("reply bar")
    other = page.locator(f"#msg-{parent.pk}")
    other.locator(".msg-more").click()
    page.locator("#msg-menu [role=menuitem]").nth(2).click()  # Mark unread
    expect(page.locator(".unread-paused")).to_be_visible()
    check("marked unread")
    assert not found, "\n".join(f"{state}:\n{text}" for state, text in found.items())
