"""``notifier api``, ``scheduler`` and ``worker``: one part of the engine per process."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import signal
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from notifier.cli.ports import require_free
from notifier.runtime.settings import Settings

if TYPE_CHECKING:
    from notifier.cli import Commands
    from notifier.store import Store


def register(commands: Commands) -> None:
    commands.add_parser("api", help="serve the HTTP API").set_defaults(handler=cmd_api)
    commands.add_parser("scheduler", help="move due messages to the delivery queue").set_defaults(
        handler=cmd_scheduler
    )
    worker = commands.add_parser("worker", help="run Dramatiq delivery workers")
    worker.add_argument("--processes", type=int)
    worker.add_argument("--threads", type=int)
    worker.set_defaults(handler=cmd_worker)


def _store(settings: Settings) -> Store:
    """The store, only if it holds a schedule this version can read."""
    from notifier.store import connections

    store = connections.store(settings)
    store.check_layout()
    return store


def require_public_url(settings: Settings) -> None:
    """A real provider of a channel whose messages carry links built on NOTIFIER_PUBLIC_URL
    (e-mail: the citizen's pages, the one-click unsubscribe) needs it: refuse to start
    without it, rather than send them silently without those links."""
    from notifier.channels.registry import plugins

    if settings.public_url is not None:
        return
    for plugin in plugins().values():
        if plugin.without_public_url and plugin.configured(settings):
            raise RuntimeError(
                f"NOTIFIER_PUBLIC_URL is not set, and {plugin.without_public_url} "
                "Set it to the API's public https:// address."
            )


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from notifier.app import create_app
    from notifier.rules.loader import rules_holder
    from notifier.runtime.logs import configure_logging
    from notifier.store.apikeys import ApiKeys

    require_public_url(settings)
    configure_logging(settings.log_level, "api")
    store = _store(settings)
    if not settings.api_keys and not ApiKeys(store.redis, {}).clients():
        print(
            "error: no API key: create one with `notifier keys add CLIENT`, or set "
            'NOTIFIER_API_KEYS=\'{"client": "key"}\'',
            file=sys.stderr,
        )
        return 2
    require_free(settings, "NOTIFIER_API_PORT")  # after the settings and the store: theirs first
    app = create_app(settings, store, rules_holder(settings.rules_dir))
    # What start-up made (compiled templates, rules, the app) lives as long as the process:
    # out of the garbage collector's sight, which otherwise walked it again on each full
    # collection (a large part of a batch of events' time)
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
    )
    return 0


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from notifier.metrics import ScheduleCollector, SchedulerMetrics
    from notifier.runtime.logs import configure_logging
    from notifier.scheduling.broker import configure_broker, enqueue_deliveries
    from notifier.scheduling.scheduler import Scheduler

    configure_logging(settings.log_level, "scheduler")
    broker = configure_broker(settings)
    store = _store(settings)
    require_free(settings, "NOTIFIER_SCHEDULER_METRICS_PORT")
    metrics = SchedulerMetrics()
    metrics.registry.register(ScheduleCollector(store))
    start_http_server(
        settings.scheduler_metrics_port, addr=settings.metrics_host, registry=metrics.registry
    )
    scheduler = Scheduler(
        store,
        lambda claims: enqueue_deliveries(broker, claims, settings.delivery_batch_size),
        batch_size=settings.scheduler_batch_size,
        lease=timedelta(seconds=settings.claim_lease_seconds),
        poll=timedelta(seconds=settings.scheduler_poll_seconds),
        gather=timedelta(seconds=settings.scheduler_gather_seconds),
        metrics=metrics,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduler.run(stop)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.store.connections import require_redis

    require_redis(settings)
    require_public_url(settings)
    require_free(settings, "NOTIFIER_WORKER_METRICS_PORT")
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers",
        "--processes",
        str(args.processes or settings.worker_processes),
        "--threads",
        str(args.threads or settings.worker_threads),
        "--skip-logging",
        "--worker-shutdown-timeout",
        "30000",
    ]
    # Idle workers poll the queue at most this often (ms); Dramatiq's default is 1000.
    os.environ.setdefault("dramatiq_worker_timeout", "250")
    # Metrics: every worker process writes its counters under one folder (prometheus_client's
    # multiprocess mode), which Dramatiq's exposition server adds up on the metrics port.
    metrics_dir = settings.data_dir / f"metrics-worker-{settings.worker_metrics_port}"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ.update(  # Dramatiq's own names for these, lower case
        {
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "dramatiq_prom_db": str(metrics_dir),
            "dramatiq_prom_host": settings.metrics_host,
            "dramatiq_prom_port": str(settings.worker_metrics_port),
        }
    )
    os.execv(sys.executable, argv)
