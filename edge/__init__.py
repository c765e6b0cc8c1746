"""The websocket edge: sockets, the per-process fan-out and the room streams. No domain
logic lives here: each app's `frames.py` handles its frames and renders its events."""
