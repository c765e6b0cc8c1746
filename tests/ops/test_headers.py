"""django-csp's policy on every page (the admin too), its report endpoint, and htmx answers
that caches keep apart (django-htmx, Vary: HX-Request)."""

from __future__ import annotations

import json


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_connect_src_is_this_origin_only(client, db):
    csp = _directives(client.get("/login")["Content-Security-Policy"])
    assert csp["connect-src"] == ["'self'"]  # no ws:/wss: to any host
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["report-uri"] == ["/csp-report"]


def test_the_admin_is_under_the_policy_too(client, db, make_user):
    admin = make_user("Admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    for path in ("/admin/", "/admin/login/", "/admin/accounts/user/"):
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response["Content-Security-Policy"], path


def test_the_api_reference_page_is_under_the_policy(client, db):
    response = client.get("/api/docs")
    csp = _directives(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]


def test_violation_reports_are_logged_without_query_strings_and_counted(client, db, caplog, settings):
    from chatty import metrics

    before = metrics.CSP_VIOLATIONS.labels("script-src-elem")._value.get()
    report = {
        "csp-report": {
            "document-uri": "https://chat.example.com/dashboard/chat/4?q=private-words",
            "effective-directive": "script-src-elem",
            "blocked-uri": "https://evil.example/x.js?token=abc",
        }
    }
    response = client.post("/csp-report", json.dumps(report), content_type="application/csp-report")
    assert response.status_code == 204
    modern = [{"type": "csp-violation", "body": {"effectiveDirective": "script-src-elem", "blockedURL": "inline"}}]
    assert client.post("/csp-report", json.dumps(modern), content_type="application/reports+json").status_code == 204
    assert client.post("/csp-report", "{not json", content_type="application/csp-report").status_code == 204
    assert metrics.CSP_VIOLATIONS.labels("script-src-elem")._value.get() == before + 2
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "chatty.csp")
    assert "https://evil.example/x.js" in logged and "token=abc" not in logged and "private-words" not in logged
    assert client.get("/csp-report").status_code == 405


def test_htmx_and_full_page_answers_vary_on_hx_request(client, make_user, befriend):
    from chats.services import room_create

    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    room, _ = room_create(creator=alice, friend_ids=[str(bob.pk)])
    client.force_login(alice)
    url = f"/dashboard/chat/{room.pk}/history?before=999999"
    page = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert b"<html" in page.content and b"<html" not in fragment.content
    for response in (page, fragment):
        assert "HX-Request" in response["Vary"]
