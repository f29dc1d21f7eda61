"""Dramatiq entry point: ``dramatiq workers`` (or ``notifier worker``) imports this package.

Importing it configures the broker from the settings, then declares the actors, which is
the order Dramatiq needs: an actor binds to the broker in force when it is declared.
"""

import os

from notifier.runtime.logs import configure_logging
from notifier.runtime.settings import get_settings
from notifier.scheduling.broker import configure_broker

configure_logging(get_settings().log_level, "worker")
broker = configure_broker(get_settings())
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set by `notifier worker`: serve /metrics
    from dramatiq.middleware.prometheus import Prometheus

    broker.add_middleware(Prometheus())

from workers.actors import STOPPING, deliver  # noqa: E402  (the broker must exist first)

broker.add_middleware(STOPPING)

__all__ = ["broker", "deliver"]
