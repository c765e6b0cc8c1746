"""Mail is configured from the environment (SPEC §11): EMAIL_URL, or the console when unset
and DEBUG is on, so that a password reset never ends in a server error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def run_with(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DJANGO_SETTINGS"))}
    base.update({"DJANGO_SETTINGS_MODULE": "chatty.settings", "SECRET_KEY": "x" * 50, **env})
    script = f"import django; django.setup()\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=base, capture_output=True, text=True, timeout=60
    )


SEND = (
    "from django.core.mail import send_mail\n"
    "send_mail('Reset your password', 'the link', None, ['someone@example.com'])\n"
    "from django.conf import settings; print('BACKEND', settings.EMAIL_BACKEND)"
)


def test_without_email_url_and_debug_on_mail_goes_to_the_console():
    result = run_with({"DEBUG": "1"}, SEND)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Subject: Reset your password" in result.stdout
    assert "BACKEND django.core.mail.backends.console.EmailBackend" in result.stdout


def test_email_url_chooses_the_backend_and_server(tmp_path):
    code = (
        "from django.conf import settings as s\n"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS)"
    )
    result = run_with({"DEBUG": "0", "EMAIL_URL": "submission://mailer:secret@smtp.example.com"}, code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "mailer",
        "True",
    ]
    result = run_with({"DEBUG": "0", "EMAIL_URL": f"file://{tmp_path}"}, SEND)
    assert result.returncode == 0, result.stderr[-2000:]
    assert any("Reset your password" in p.read_text() for p in tmp_path.iterdir())


def test_an_unknown_email_url_scheme_fails_clearly_at_start():
    result = run_with({"DEBUG": "1", "EMAIL_URL": "carrier-pigeon://coop"}, "print('started')")
    assert result.returncode != 0
    assert "EMAIL_URL" in result.stderr and "started" not in result.stdout


def test_password_reset_for_any_address_is_answered(client, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
