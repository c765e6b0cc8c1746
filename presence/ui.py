"""The browser's socket, /ws/ui/: the same protocol, plus server-rendered fragments.

Every JSON frame the consumer sends still goes out (the page's few lines of JavaScript use
acks, errors and the join), followed by the HTML that htmx's ws extension swaps into the
page out-of-band by id. Rendering hooks onto `send`, so catch-up replays, live events and
snapshots all get their fragments from one place.
"""

from __future__ import annotations

import json
import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import User
from friends.selectors import friend_ids
from presence.consumers import ChatConsumer

TYPING_SHOWN_FOR = 4.0


@database_sync_to_async
def _names(user_ids: list[int]) -> dict[int, str]:
    return {u.pk: u.display_name for u in User.objects.filter(pk__in=user_ids)}


_friend_ids = database_sync_to_async(friend_ids)


class UiConsumer(ChatConsumer):
    async def connect(self) -> None:
        query = dict(
            part.split("=", 1) for part in self.scope.get("query_string", b"").decode().split("&") if "=" in part
        )
        languages = {code for code, _ in settings.LANGUAGES}
        self.lang = query.get("lang") if query.get("lang") in languages else settings.LANGUAGE_CODE
        self.names: dict[int, str] = {}
        await super().connect()

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        if text_data is None or self.user is None or not text_data.startswith("{"):
            return
        frame = json.loads(text_data)
        context = await self._context(frame)
        if context is not None:
            with translation.override(self.lang):
                html = render_to_string("chats/partials/push.html", {"me_id": str(self.user.pk), **context})
            if html.strip():
                await super().send(text_data=html)

    async def _context(self, frame: dict[str, Any]) -> dict[str, Any] | None:
        kind = frame.get("type")
        if kind == "message":
            return {"kind": kind, "message": frame["message"]}
        if kind == "lastMessage":
            return {"kind": kind, "message": frame["message"], "unread": frame["unreadMessagesCount"]}
        if kind == "getOnlineFriend":
            return {"kind": "presence", "dots": [(frame["userId"], frame["status"])]}
        if kind == "retrieveOnlineFriends":
            # Every friend's dot: the frame lists only those not offline, the rest turn grey.
            online = frame["friends"]
            ids = {str(f) for f in await _friend_ids(user_id=self.user.pk)} | set(online)
            dots = [(f, online.get(f, {}).get("status", "offline")) for f in sorted(ids)]
            return {"kind": "presence", "dots": dots}
        if kind == "retrieveCurrentUser":
            return {"kind": "me", "my_status": frame["status"]}
        if kind == "addedAsFriend":
            return {"kind": kind, "friend": frame["friend"]}
        if kind == "removedAsFriend":
            return {"kind": kind, "user_id": frame["userId"]}
        if kind == "addedInChatroom":
            return {"kind": kind, "chat": frame["chatroom"], "me_id": str(self.user.pk), "current_room_id": ""}
        if kind == "messageDeleted":
            return {"kind": kind, "message_id": frame["messageId"]}
        if kind == "typing":
            user_id = int(frame["userId"])
            if user_id not in self.names:
                self.names.update(await _names([user_id]))
            name = self.names.get(user_id, "")
            return {"kind": kind, "name": name, "until": int((time.time() + TYPING_SHOWN_FOR) * 1000)}
        return None
