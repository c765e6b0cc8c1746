"""POST /api/chat/upload (SPEC §10): multipart, field `file`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chats.uploads import attachment_payload, upload_create
from chatty.api import api_view


@api_view("POST", json_body=False)
def upload(request: HttpRequest, user: Any, body: dict) -> tuple[int, dict]:
    attachment = upload_create(uploader_id=user.pk, upload=request.FILES.get("file"))
    return 201, attachment_payload(attachment)
