"""The frame table and the event table: what each domain app's `frames.py` handles.

The edge knows no domain; this is where it is told which app answers which frame, renders
which event, and takes part in a connection's opening and closing (in this order).
"""

from __future__ import annotations

from accounts import frames as accounts_frames
from accounts.sessions import connection_credentials, invalid_connections
from chats import frames as chats_frames
from friends import frames as friends_frames
from presence import frames as presence_frames

FRAMES = {**presence_frames.FRAMES, **chats_frames.FRAMES}
EVENTS = {**accounts_frames.EVENTS, **friends_frames.EVENTS, **chats_frames.EVENTS, **presence_frames.EVENTS}
STREAM_EVENTS = chats_frames.STREAM_EVENTS
ROOMS = chats_frames.ROOMS
OPENED = [chats_frames.opened, presence_frames.opened]
CLOSED = [presence_frames.closed, chats_frames.closed]
# A socket lives only while its session or token still signs its user in (edge/hub.py's
# re-check): what it was opened with, and the check.
CREDENTIALS = connection_credentials
INVALID_CONNECTIONS = invalid_connections
CLOSE_UNAUTHENTICATED = 4401
# The frame each event becomes (the metrics count frames out by frame type).
FRAME_OF_EVENT = {
    "chat.message": "lastMessage",  # its `message` frames are counted by the stream
    "chat.last_message": "lastMessage",
    "chat.typing": "typing",
    "chat.added": "addedInChatroom",
    "chat.message_deleted": "messageDeleted",
    "chat.message_edited": "messageEdited",
    "chat.reactions_changed": "reactionsChanged",
    "chat.unread": "unreadCount",
    "chat.read_by": "readBy",
    "chat.updated": "chatroomUpdated",
    "chat.removed": "removedFromChatroom",
    "presence.changed": "getOnlineFriend",
    "presence.self": "retrieveCurrentUser",
    "friend.added": "addedAsFriend",
    "friend.removed": "removedAsFriend",
    "friend.updated": "friendUpdated",
}
