"""Files in Chromium (SPEC §10): attach by the button and by pasting, a chip with its progress,
the other person sees the thumbnail and opens the full image; a file over the limit shows its
error on the chip and nothing is sent."""

from __future__ import annotations

import base64
import io
import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import axe_violations, describe
from tests.browser.conftest import DESKTOP, LIVE, PHONE, message, write

pytestmark = pytest.mark.django_db(transaction=True)


def png(width: int = 640, height: int = 480, colour: str = "#3366cc") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def _pair_in_room(live, **options):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    anas = live.page(ana, f"/dashboard/chat/{room.pk}", **options)
    bens = live.page(ben, f"/dashboard/chat/{room.pk}")
    return anas, bens


def test_attach_by_button_the_other_sees_the_thumbnail_and_opens_the_image(live):
    anas, bens = _pair_in_room(live)
    expect(anas.locator("#attach-button")).to_be_visible()
    anas.set_input_files("#composer-file", files=[{"name": "sea.png", "mimeType": "image/png", "buffer": png()}])
    chip = anas.locator("#file-chips .file-chip")
    expect(chip).to_have_count(1)
    expect(chip.locator(".chip-name")).to_have_text("sea.png")
    expect(chip).to_have_attribute("data-state", "done", timeout=LIVE)
    expect(chip.locator(".chip-preview img")).to_have_count(1)
    write(anas, "look at this")
    expect(anas.locator("#file-chips .file-chip")).to_have_count(0)
    theirs = message(bens, "look at this", mine=False)
    expect(theirs).to_have_count(1, timeout=LIVE)
    thumb = theirs.locator(".att-image img")
    expect(thumb).to_be_visible()
    # The space is reserved before the image loads (no layout shift), and it did load.
    assert thumb.get_attribute("width") == "240" and thumb.get_attribute("height") == "180"
    bens.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    expect(thumb).to_have_attribute("alt", "sea.png")
    with bens.context.expect_page() as opened:
        theirs.locator(".att-open").click()
    full = opened.value
    full.wait_for_load_state()
    assert re.search(r"/media/att/\d+/sea\.png$", full.url)
    assert full.evaluate("() => document.contentType") == "image/png"
    assert full.evaluate("() => document.images[0].naturalWidth") == 640
    # In search results too.
    bens.fill("#room-search-q", "look")
    bens.press("#room-search-q", "Enter")
    expect(bens.locator("#search-dialog li.search-result .att-image img")).to_have_attribute("alt", "sea.png")


def test_paste_an_image_with_no_text_and_a_file_card(live):
    anas, bens = _pair_in_room(live, viewport=PHONE)
    data = base64.b64encode(png(100, 300, "#cc3333")).decode()
    anas.locator("#composer-text").focus()
    anas.evaluate(
        """data => {
          const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
          const e = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
          document.getElementById("composer-text").dispatchEvent(e);
        }""",
        data,
    )
    chip = anas.locator("#file-chips .file-chip")
    expect(chip).to_have_attribute("data-state", "done", timeout=LIVE)
    anas.set_input_files(
        "#composer-file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello " * 300}]
    )
    expect(chip).to_have_count(2)
    expect(chip.nth(1)).to_have_attribute("data-state", "done", timeout=LIVE)
    anas.press("#composer-text", "Enter")  # no text: the attachments alone are the message
    theirs = bens.locator("#messages li.msg[data-id]:not(.mine)")
    expect(theirs).to_have_count(1, timeout=LIVE)
    expect(theirs.locator(".att-image img")).to_have_attribute("alt", "pasted.png")
    assert theirs.locator(".att-image img").get_attribute("height") == "240"
    card = theirs.locator(".att-card")
    expect(card.locator(".att-name")).to_have_text("notes.txt")
    expect(card.locator(".att-size")).to_have_text(re.compile(r"1\.8\s*KB"))
    with bens.expect_download() as download:
        card.click()
    assert download.value.suggested_filename == "notes.txt"


def test_a_file_over_the_limit_shows_its_error_and_nothing_is_sent(live):
    anas, bens = _pair_in_room(live)
    big = b"\0" * (10 * 1024 * 1024 + 1)
    anas.set_input_files(
        "#composer-file", files=[{"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": big}]
    )
    chip = anas.locator("#file-chips .file-chip")
    expect(chip).to_have_attribute("data-state", "error")
    expect(chip.locator(".chip-status")).to_have_text(re.compile("over 10 MiB"))
    anas.press("#composer-text", "Enter")
    expect(anas.locator("#toasts")).to_contain_text("Remove the files that could not be uploaded")
    expect(anas.locator("#messages li.pending")).to_have_count(0)
    chip.locator(".chip-remove").click()
    expect(chip).to_have_count(0)
    write(anas, "only this one")
    expect(message(bens, "only this one")).to_have_count(1, timeout=LIVE)
    expect(bens.locator("#messages li.msg[data-id]")).to_have_count(1)
    expect(bens.locator("#messages .attachments")).to_have_count(0)


def test_the_server_refuses_a_file_over_the_limit_with_its_message(live):
    anas, _bens = _pair_in_room(live)
    # The page's own check off: what the server answers (413 too_large) shows on the chip.
    anas.evaluate("() => { document.getElementById('composer-files').dataset.maxMb = '0'; }")
    big = b"\0" * (10 * 1024 * 1024 + 1)
    anas.set_input_files(
        "#composer-file", files=[{"name": "huge.bin", "mimeType": "application/octet-stream", "buffer": big}]
    )
    chip = anas.locator("#file-chips .file-chip")
    expect(chip).to_have_attribute("data-state", "error", timeout=LIVE)
    expect(chip.locator(".chip-status")).to_have_text("A file may be at most 10 MiB.")
    anas.press("#composer-text", "Enter")
    expect(anas.locator("#toasts")).to_contain_text("Remove the files that could not be uploaded")
    expect(anas.locator("#messages li.pending")).to_have_count(0)


def test_sending_waits_until_the_uploads_are_done(live):
    anas, bens = _pair_in_room(live)
    held = []
    anas.route("**/api/chat/upload", lambda route: held.append(route))
    anas.set_input_files("#composer-file", files=[{"name": "slow.png", "mimeType": "image/png", "buffer": png(50, 50)}])
    chip = anas.locator("#file-chips .file-chip")
    expect(chip).to_have_attribute("data-state", "uploading")
    write(anas, "wait for it")
    expect(chip.locator(".chip-status")).to_have_text("Sends when the upload is done.")
    expect(anas.locator("#messages li.pending")).to_have_count(0)
    expect(anas.locator("#composer-text")).to_have_value("wait for it")
    anas.wait_for_function("() => true")  # let the held request be seen by the route handler
    assert len(held) == 1
    held[0].continue_()
    theirs = message(bens, "wait for it", mine=False)
    expect(theirs).to_have_count(1, timeout=LIVE)
    expect(theirs.locator(".att-image img")).to_have_attribute("alt", "slow.png")
    expect(anas.locator("#file-chips .file-chip")).to_have_count(0)


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_no_violation_in_chips_and_attachments(live, viewport, locale):
    options = {"viewport": viewport, "locale": locale, "bypass_csp": True, "reduced_motion": "reduce"}
    anas, _bens = _pair_in_room(live, **options)
    anas.set_input_files(
        "#composer-file",
        files=[
            {"name": "a.png", "mimeType": "image/png", "buffer": png(64, 64)},
            {"name": "b.txt", "mimeType": "text/plain", "buffer": b"b"},
        ],
    )
    chips = anas.locator("#file-chips .file-chip[data-state=done]")
    expect(chips).to_have_count(2, timeout=LIVE)
    anas.set_input_files(
        "#composer-file", files=[{"name": "c.bin", "mimeType": "application/x", "buffer": b"\0" * (11 << 20)}]
    )
    expect(anas.locator("#file-chips .file-chip[data-state=error]")).to_have_count(1)
    found = {}
    violations = axe_violations(anas)
    if violations:
        found["chips"] = describe(violations)
    anas.locator("#file-chips .file-chip[data-state=error] .chip-remove").click()
    anas.press("#composer-text", "Enter")
    expect(anas.locator("#messages li.msg[data-id] .attachments li")).to_have_count(2, timeout=LIVE)
    violations = axe_violations(anas)
    if violations:
        found["attachments"] = describe(violations)
    assert not found, "axe found violations:\n" + "\n".join(f"[{k}]\n{v}" for k, v in found.items())


def test_drop_a_file_on_the_room(live):
    anas, bens = _pair_in_room(live)
    anas.evaluate(
        """() => {
          const dt = new DataTransfer();
          dt.items.add(new File(["a,b\\n1,2\\n"], "table.csv", { type: "text/csv" }));
          const room = document.querySelector(".room");
          room.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
          room.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        }"""
    )
    chip = anas.locator("#file-chips .file-chip")
    expect(chip.locator(".chip-name")).to_have_text("table.csv")
    expect(chip).to_have_attribute("data-state", "done", timeout=LIVE)
    write(anas, "the numbers")
    theirs = message(bens, "the numbers", mine=False)
    expect(theirs.locator(".att-card .att-name")).to_have_text("table.csv", timeout=LIVE)
