"""``notifier run``: the whole engine on this machine, for development and the demo."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

from notifier.cli.ports import PORTS, require_free
from notifier.runtime.settings import Settings

if TYPE_CHECKING:
    from notifier.cli import Commands


def register(commands: Commands) -> None:
    commands.add_parser("run", help="start everything on this machine (dev and demo)").set_defaults(
        handler=cmd_run
    )


def _local_api(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


def _demo_banner(settings: Settings, redis_url: str) -> str:
    from datetime import timedelta

    from notifier.links import Links
    from notifier.scopes import Scope, parse_scopes

    keys = ", ".join(f"{c}={k.get_secret_value()}" for c, k in settings.api_keys.items())
    base = _local_api(settings)
    links = Links(settings.secret(), settings.public_url or base, ttl=timedelta(days=30))
    metrics = f"http://{settings.metrics_host}"
    tenant = next(iter(settings.api_keys), "demo")  # an environment key's tenant: its name
    ops = [c for c, named in settings.api_key_scopes.items() if Scope.OPS in parse_scopes(named)]
    agents = f": {', '.join(ops)}" if ops else ""
    return f"""
notifier is starting
  API        {base}   (health: {base}/healthz, docs: {base}/docs)
  console    {base}/ops/   (log in with an API key holding the ops scope{agents})
  API keys   {keys or "none: set NOTIFIER_API_KEYS"}
  citizen    {links.pages(tenant, "citizen-0001")}
             (the pages of the demo events' recipient, once {tenant}'s events name them)
  metrics    {base}/metrics (API), {metrics}:{settings.scheduler_metrics_port}/metrics (scheduler),
             {metrics}:{settings.worker_metrics_port}/metrics (workers)
  Redis      {redis_url}
  rules      {settings.rules_dir}
  templates  {settings.templates_dir}
  outbox     {settings.outbox_dir}   (one JSON file per message sent)
Post an event: see README.md, "Try it". Ctrl-C stops everything.
"""


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Everything on one machine: embedded Valkey unless configured, API, scheduler, worker."""
    from notifier.runtime.logs import configure_logging

    configure_logging(settings.log_level, "run")
    # every port of the parts it starts; the embedded server's only if it starts one
    embedded = "NOTIFIER_EMBEDDED_REDIS_PORT"
    require_free(settings, *(n for n in PORTS if n != embedded or not settings.redis_url))
    server = None
    redis_url = settings.redis_url
    if not redis_url:
        from notifier.runtime.redis_server import embedded_server

        server = embedded_server(settings.data_dir / "valkey", settings.embedded_redis_port)
        server.start()
        redis_url = server.connection_url + "/0"
    try:
        return _supervise(settings, redis_url)
    finally:
        if server is not None:
            server.stop()  # last: the workers may still be finishing their messages
        print("notifier stopped", flush=True)


def _supervise(settings: Settings, redis_url: str) -> int:
    """Run api, scheduler and worker until a signal or until one of them exits."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    env = {**os.environ, "NOTIFIER_REDIS_URL": redis_url}
    # The demo's links to the citizen pages point at this API unless a public URL is set.
    env.setdefault("NOTIFIER_PUBLIC_URL", settings.public_url or _local_api(settings))
    if settings.public_url is None:  # this machine's address names nothing: discreet ones too
        env.setdefault("NOTIFIER_DISCREET_PUBLIC_URL", _local_api(settings))
    print(_demo_banner(settings, redis_url), flush=True)
    # Own process groups: Ctrl-C reaches only this supervisor, which then stops each child
    # once. (A second signal makes Dramatiq kill its workers instead of letting them finish.)
    children = [
        subprocess.Popen([sys.executable, "-m", "notifier", part], env=env, start_new_session=True)
        for part in ("api", "scheduler", "worker")
    ]
    exit_code = 0
    while not stop.wait(0.5):
        if any(child.poll() is not None for child in children):
            print("a notifier process exited; stopping the others", file=sys.stderr)
            exit_code = 1
            break
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 40
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return exit_code
