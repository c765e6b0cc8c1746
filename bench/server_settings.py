"""Settings for the servers the benchmarks start: chatty.settings plus the knobs they turn.

chatty.settings always picks channels-redis' pub/sub layer when REDIS_URL is set; to compare
layers the benchmarks read `CHATTY_CHANNEL_LAYER` (`pubsub`, the default, or `core`) — the
name proposed for chatty.settings itself. Everything else is the project's own settings.

- CHATTY_CHANNEL_LAYER: pubsub | core
- BENCH_CHANNEL_PREFIX: channel-layer prefix (Redis pub/sub channels are not per database:
  a distinct prefix keeps a benchmark and a concurrent test run apart)
- BENCH_LAYER_CAPACITY: capacity of the core layer (channels-redis' default is 100)
- BENCH_CONN_MAX_AGE: override CONN_MAX_AGE (seconds, or `none` for persistent connections)
  to measure a proposed change without editing chatty/settings.py; BENCH_CONN_HEALTH_CHECKS=1
  adds Django's health check (a `SELECT 1` before the first query of every sync_to_async call)
"""

from __future__ import annotations

import os

from chatty.settings import *  # noqa: F403
from chatty.settings import DATABASES, REDIS_URL

_layer = os.environ.get("CHATTY_CHANNEL_LAYER", "pubsub")
_prefix = os.environ.get("BENCH_CHANNEL_PREFIX", "chattybench")

if REDIS_URL:
    if _layer == "core":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [REDIS_URL],
                    "prefix": _prefix,
                    "capacity": int(os.environ.get("BENCH_LAYER_CAPACITY", "100")),
                },
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL], "prefix": _prefix},
            }
        }

if os.environ.get("BENCH_CONN_MAX_AGE"):
    _age = os.environ["BENCH_CONN_MAX_AGE"]
    DATABASES["default"]["CONN_MAX_AGE"] = None if _age == "none" else int(_age)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = os.environ.get("BENCH_CONN_HEALTH_CHECKS") == "1"
