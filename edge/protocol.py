"""The frame table and the event table: what each domain app's `frames.py` handles.

The edge knows no domain; this is where it is told which app answers which frame, renders
which event, and takes part in a connection's opening and closing (in this order).
"""

from __future__ import annotations

from accounts import frames as accounts_frames
from chats import frames as chats_frames
from friends import frames as friends_frames
from presence import frames as presence_frames

FRAMES = {**presence_frames.FRAMES, **chats_frames.FRAMES}
EVENTS = {**accounts_frames.EVENTS, **friends_frames.EVENTS, **chats_frames.EVENTS, **presence_frames.EVENTS}
STREAM_EVENTS = chats_frames.STREAM_EVENTS
ROOMS = chats_frames.ROOMS
OPENED = [chats_frames.opened, presence_frames.opened]
CLOSED = [presence_frames.closed, chats_frames.closed]
