"""Search in Chromium (SPEC §10): the sidebar's and the room's search, results with their
snippets, and the jump to a result: the room opens around it, scrolled to it, highlighted."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import announced, axe_violations, describe, watch_live_regions
from tests.browser.conftest import DESKTOP, LIVE, PHONE, message, write

pytestmark = pytest.mark.django_db(transaction=True)


def _history_with_an_old_needle(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    for i in range(10):
        live.send(ben, room, f"early {i}")
    live.send(ben, room, "the secret <b>pineapple</b> recipe")
    for i in range(70):
        live.send(ana if i % 2 else ben, room, f"later {i}")
    return ana, ben, room


def test_sidebar_search_opens_the_room_at_an_old_message_highlighted(live):
    ana, ben, room = _history_with_an_old_needle(live)
    page = live.page(ana)
    page.fill("#sidebar-search-q", "PINEAPPLE")
    page.press("#sidebar-search-q", "Enter")
    dialog = page.locator("#search-dialog")
    expect(dialog).to_be_visible()
    results = dialog.locator("li.search-result")
    expect(results).to_have_count(1)
    # The server's snippet: the text escaped, the match marked.
    expect(results.locator("mark")).to_have_text("pineapple")
    expect(results.locator(".snippet")).to_have_text("the secret <b>pineapple</b> recipe")
    expect(results.locator(".result-room")).to_have_text("Ben")
    expect(results.locator("time")).not_to_be_empty()
    results.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/chat/{room.pk}\?around=\d+"))
    needle = message(page, "the secret <b>pineapple</b> recipe")
    expect(needle).to_have_class(re.compile(r"\bjump-target\b"))
    expect(needle).to_be_in_viewport()
    expect(message(page, "later 69")).to_have_count(0)  # not the newest page
    # Scrolling down brings the newer messages, in order, and the room is live again.
    watch_live_regions(page)
    for _ in range(5):
        count = page.locator("#messages li.msg[data-id]").count()
        if not page.locator("#newer").count():
            break
        page.locator("#history").evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_function(f"() => document.querySelectorAll('#messages li.msg[data-id]').length > {count}")
    expect(page.locator("#newer")).to_have_count(0, timeout=LIVE)
    expect(message(page, "later 69")).to_have_count(1)
    bens = live.page(ben, f"/dashboard/chat/{room.pk}")
    write(bens, "fresh after the jump")
    expect(message(page, "fresh after the jump")).to_have_count(1, timeout=LIVE)
    # Pages of history are not announced as news; the new message is.
    texts = [entry["text"] for entry in announced(page) if entry["region"] == "announcer"]
    expect(page.locator("#announcer")).to_contain_text("fresh after the jump")
    assert not [t for t in texts if "later" in t], texts
    ids = page.locator("#messages li.msg[data-id]").evaluate_all("els => els.map(e => +e.dataset.id)")
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 82


def test_room_search_finds_only_this_room_and_jumps_in_place(live):
    ana, ben, cai = live.user("Ana"), live.user("Ben"), live.user("Cai")
    live.befriend(ana, ben)
    live.befriend(ana, cai)
    room = live.room(ana, ben)
    other = live.room(ana, cai)
    live.send(ben, room, "banana bread tonight")
    live.send(cai, other, "banana split elsewhere")
    for i in range(30):
        live.send(ben, room, f"chatter {i}")
    page = live.page(ana, f"/dashboard/chat/{room.pk}", viewport=PHONE)
    page.fill("#room-search-q", "banana")
    page.press("#room-search-q", "Enter")
    results = page.locator("#search-dialog li.search-result")
    expect(results).to_have_count(1)
    expect(results.locator(".snippet")).to_have_text("banana bread tonight")
    expect(page.locator("#search-heading")).to_contain_text("in this chat")
    results.locator("a").click()
    expect(page.locator("#search-dialog")).to_be_hidden()
    needle = message(page, "banana bread tonight")
    expect(needle).to_have_class(re.compile(r"\bjump-target\b"))
    expect(needle).to_be_in_viewport()


def test_more_results_and_nothing_found(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    for i in range(25):
        live.send(ben, room, f"kiwi number {i}")
    page = live.page(ana)
    page.fill("#sidebar-search-q", "kiwi")
    page.press("#sidebar-search-q", "Enter")
    results = page.locator("#search-dialog li.search-result")
    expect(results).to_have_count(20)
    page.locator("#search-more a").click()
    expect(results).to_have_count(25)
    expect(results.nth(20).locator("a")).to_be_focused()  # focus goes on to the first new result
    expect(page.locator("#search-more a")).to_have_count(0)
    expect(results.last.locator(".snippet")).to_have_text("kiwi number 0")
    page.locator("#search-dialog [data-close]").click()
    expect(page.locator("#search-dialog")).to_be_hidden()
    page.fill("#sidebar-search-q", "mango")
    page.press("#sidebar-search-q", "Enter")
    expect(page.locator("#search-dialog")).to_contain_text("No messages found.")


def test_search_in_korean_and_without_javascript(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    live.send(ben, room, "내일회의는 열 시")
    page = live.page(ana, locale="ko-KR")
    page.fill("#sidebar-search-q", "회의")
    page.press("#sidebar-search-q", "Enter")
    expect(page.locator("#search-dialog mark")).to_have_text("회의")
    expect(page.locator("#search-heading")).to_contain_text("모든 채팅")
    plain = live.page(ana, java_script_enabled=False)
    plain.fill("#sidebar-search-q", "회의")
    plain.press("#sidebar-search-q", "Enter")
    expect(plain).to_have_url(re.compile(r"/dashboard/search\?q="))
    plain.locator("li.search-result a").click()
    expect(plain.locator("#messages li.msg[data-id]:target")).to_have_count(1)


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_no_violation_in_the_search_boxes_results_and_jump(live, viewport, locale):
    ana, _ben, room = _history_with_an_old_needle(live)
    options = {"viewport": viewport, "locale": locale, "bypass_csp": True, "reduced_motion": "reduce"}
    page = live.page(ana, f"/dashboard/chat/{room.pk}", **options)
    found = {}
    if viewport == PHONE:
        page.locator("#room-search-q").fill("later")
        page.locator("#room-search-q").press("Enter")
    else:
        page.locator("#sidebar-search-q").fill("later")
        page.locator("#sidebar-search-q").press("Enter")
    expect(page.locator("#search-dialog li.search-result")).to_have_count(20)
    expect(page.locator("#search-heading")).to_be_focused()
    violations = axe_violations(page)
    if violations:
        found["results"] = describe(violations)
    page.keyboard.press("Escape")
    expect(page.locator("#search-dialog")).to_be_hidden()
    page.goto("/dashboard/search?q=pineapple")
    violations = axe_violations(page)
    if violations:
        found["search page"] = describe(violations)
    page.locator("li.search-result a").click()
    expect(page.locator("li.msg.jump-target")).to_have_count(1)
    violations = axe_violations(page)
    if violations:
        found["jumped"] = describe(violations)
    assert not found, "axe found violations:\n" + "\n".join(f"[{k}]\n{v}" for k, v in found.items())
