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

# BENCH_DB_THREADS=N: an experiment, not a configuration. Channels' database_sync_to_async is
# thread-sensitive: every database call of every socket of the process runs on one thread.
# This runs them on a pool of N threads instead (each with its own connection), to measure
# what parallel database work would give. It changes the order in which concurrent sends to
# one room publish (see docs/performance.md): lost deliveries are expected with it.
_db_threads = int(os.environ.get("BENCH_DB_THREADS", "0") or 0)
if _db_threads:
    from concurrent.futures import ThreadPoolExecutor

    import channels.db

    _pool = ThreadPoolExecutor(max_workers=_db_threads, thread_name_prefix="bench-db")

    class _PooledDatabaseSyncToAsync(channels.db.DatabaseSyncToAsync):
        def __init__(self, func, thread_sensitive=True, executor=None, context=None):
            super().__init__(func, thread_sensitive=False, executor=_pool, context=context)

    channels.db.database_sync_to_async = _PooledDatabaseSyncToAsync

# BENCH_SWITCH_INTERVAL=seconds: an experiment. The event loop and the database thread share
# one GIL; a database thread woken by a reply waits up to the switch interval (5 ms by default)
# for the loop to let go of it, once per query.
if os.environ.get("BENCH_SWITCH_INTERVAL"):
    import sys

    sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))

# BENCH_DB_POOL=N: psycopg's connection pool (Django >= 5.1, package psycopg-pool) of at most N
# connections, CONN_MAX_AGE 0: what Django's documentation advises under ASGI instead of
# persistent connections. Measures proposal 1 of docs/performance.md.
if os.environ.get("BENCH_DB_POOL"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ["BENCH_DB_POOL"]),
        "timeout": 10,
    }
