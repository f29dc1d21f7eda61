"""The ports a command listens on, by the setting that chooses each; one already in use is
told in one line naming its setting, before anything starts."""

from __future__ import annotations

import socket
from collections.abc import Callable

from notifier.runtime.settings import Settings

PORTS: dict[str, Callable[[Settings], tuple[str, int]]] = {
    "NOTIFIER_API_PORT": lambda s: (s.api_host, s.api_port),
    "NOTIFIER_SCHEDULER_METRICS_PORT": lambda s: (s.metrics_host, s.scheduler_metrics_port),
    "NOTIFIER_WORKER_METRICS_PORT": lambda s: (s.metrics_host, s.worker_metrics_port),
    "NOTIFIER_EMBEDDED_REDIS_PORT": lambda s: ("127.0.0.1", s.embedded_redis_port),
}


def require_free(settings: Settings, *names: str) -> None:
    """A RuntimeError naming the first of these ports in use (another `make run`, anything
    else on 8000) and its setting."""
    for name in names:
        host, port = PORTS[name](settings)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                probe.bind((host, port))
            except OSError:
                raise RuntimeError(
                    f"port {port} ({name}) is in use on {host}: stop what listens there, "
                    f"or choose another port ({name}=…)"
                ) from None
