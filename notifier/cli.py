"""``notifier`` command line: run the engine, or one of its parts, and check rule files."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notifier.runtime.settings import Settings, get_settings

if TYPE_CHECKING:
    from notifier.store import Store


def _store(settings: Settings, *, schedule: bool = True) -> Store:
    """The store; with ``schedule``, only if it holds a schedule this version can read."""
    from notifier.store import connections

    store = connections.store(settings)
    if schedule:
        store.check_layout()
    return store


def require_public_url(settings: Settings) -> None:
    """E-mail through a real server needs NOTIFIER_PUBLIC_URL: refuse to start without it.

    Each e-mail carries the link to the citizen's pages and the one-click unsubscribe, both
    built on it; without it they would go out silently without either.
    """
    from notifier.channels.registry import plugins
    from notifier.models import Channel

    if settings.public_url is None and plugins()[Channel.EMAIL].configured(settings):
        raise RuntimeError(
            "NOTIFIER_PUBLIC_URL is not set, and e-mail goes through NOTIFIER_SMTP_HOST: "
            "e-mails would have no link to the citizen's pages and no one-click unsubscribe. "
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
    app = create_app(settings, store, rules_holder(settings.rules_dir))
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


def _load_events(paths: list[Path]) -> list[Any]:
    from notifier.models import Event

    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    return [Event.model_validate_json(f.read_text(encoding="utf-8")) for f in files]


def cmd_rules_check(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.rules.lint import lint
    from notifier.rules.loader import RuleSetError, load_rules
    from notifier.runtime.clock import utcnow

    folder = Path(args.dir) if args.dir else settings.rules_dir
    templates = Path(args.templates) if args.templates else settings.templates_dir
    try:
        ruleset = load_rules(folder)
    except RuleSetError as exc:
        print(exc, file=sys.stderr)
        print(f"{len(exc.errors)} error(s): these rules would be refused.", file=sys.stderr)
        return 1
    samples = _load_events([Path(e) for e in args.events or []])
    findings = lint(ruleset, templates, utcnow(), samples)
    for finding in findings:
        print(finding, file=sys.stderr)
    errors = [f for f in findings if f.severity == "error"]
    print(
        f"{len(ruleset.rules)} rules in {len(ruleset.files)} files, version {ruleset.version}; "
        f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)"
    )
    return 1 if errors or (findings and args.strict) else 0


def cmd_rules_preview(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime

    from notifier.rules.engine import EventDataError
    from notifier.rules.loader import RuleSetError, load_rules
    from notifier.rules.preview import preview
    from notifier.runtime.clock import utcnow
    from notifier.templates.renderer import Renderer

    try:
        ruleset = load_rules(Path(args.dir) if args.dir else settings.rules_dir)
    except RuleSetError as exc:
        print(exc, file=sys.stderr)
        return 1
    events = _load_events([Path(e) for e in args.event])
    now = datetime.fromisoformat(args.now) if args.now else utcnow()
    if now.tzinfo is None:
        print("error: --now needs a UTC offset, e.g. 2026-12-01T09:00:00+01:00", file=sys.stderr)
        return 2
    renderer = Renderer(Path(args.templates) if args.templates else settings.templates_dir)
    try:
        print(preview(events, ruleset, renderer, now, html=args.html))
    except EventDataError as exc:
        print(f"error: the event cannot be planned: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_rules_schema(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.rules.schema import rule_file_json_schema

    print(rule_file_json_schema(), end="")
    return 0


def cmd_templates_preview(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from jinja2 import TemplateError

    from notifier.accessibility import prepare_sms
    from notifier.models import Channel, Need
    from notifier.templates.context import template_flags
    from notifier.templates.renderer import Renderer, TemplateMissingError
    from notifier.templates.segments import sms_report

    data = json.loads(Path(args.data).read_text(encoding="utf-8")) if args.data else {}
    data = data.get("data", data)  # an event file works too
    needs = {Need(n) for n in args.needs or []}
    channel = Channel(args.channel)
    context = {
        "locale": args.locale,
        "timezone": args.timezone,
        "needs": template_flags(needs),
        "channel": channel.value,
        "data": data,
    }
    templates = Path(args.templates) if args.templates else settings.templates_dir
    try:
        parts = Renderer(templates).render(
            args.name, channel, args.locale, context, easy_read=Need.EASY_READ in needs
        )
    except (TemplateMissingError, TemplateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if channel is Channel.SMS:
        parts["text"], _, problem = prepare_sms(parts["text"], needs, settings.sms_normalization)
        print(f"# {sms_report(parts['text'])}" + (f"; {problem}" if problem else ""))
    for name, text in parts.items():
        print(f"--- {name}\n{text}")
    return 0


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.store.apikeys import ApiKeys, parse_scopes

    keys = ApiKeys(_store(settings, schedule=False).redis, {})
    if args.keys_command == "add":
        try:
            key = keys.add(
                args.client, args.events or [], scopes=parse_scopes(args.scopes), tenant=args.tenant
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(key)
        print(
            f"# the API key of {args.client}: shown once, only its digest is stored",
            file=sys.stderr,
        )
    elif args.keys_command == "revoke":
        count = keys.revoke(args.client)
        print(f"{count} key(s) of {args.client} revoked")
        return 0 if count else 1
    else:
        for client in keys.clients():
            print(
                f"{client.name}\ttenant={client.tenant}\t"
                f"scopes={','.join(sorted(client.scopes))}\t"
                f"{' '.join(client.events or ['(any event type)'])}"
            )
    return 0


def cmd_vapid_generate(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.channels.webpush import generate_vapid_keys

    private, public = generate_vapid_keys()
    print(f"NOTIFIER_VAPID_PRIVATE_KEY={private}")
    print(f"# public key, for the browser's PushManager.subscribe(applicationServerKey): {public}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    from notifier.channels.registry import plugins

    parser = argparse.ArgumentParser(prog="notifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start everything on this machine (dev and demo)")
    commands.add_parser("api", help="serve the HTTP API")
    commands.add_parser("scheduler", help="move due messages to the delivery queue")
    worker = commands.add_parser("worker", help="run Dramatiq delivery workers")
    worker.add_argument("--processes", type=int)
    worker.add_argument("--threads", type=int)
    rules = commands.add_parser("rules", help="rule file tools")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_commands.add_parser("check", help="validate rule files, then warn")
    check.add_argument("dir", nargs="?", help="rules folder (default: NOTIFIER_RULES_DIR)")
    check.add_argument("--templates", help="templates folder (default: NOTIFIER_TEMPLATES_DIR)")
    check.add_argument(
        "--events",
        action="append",
        help="sample event file or folder, to check SMS lengths against max_sms_segments",
    )
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    show = rules_commands.add_parser("preview", help="the timeline an event would produce")
    show.add_argument(
        "--event",
        required=True,
        action="append",
        help="an event as JSON (as posted to the API); repeat for events in order, each one "
        "cancelling or replacing what the ones before planned",
    )
    show.add_argument("--html", action="store_true", help="print the HTML of e-mails too")
    show.add_argument("--now", help="pretend it is this ISO 8601 time (default: now)")
    show.add_argument("--dir", help="rules folder (default: NOTIFIER_RULES_DIR)")
    show.add_argument("--templates", help="templates folder (default: NOTIFIER_TEMPLATES_DIR)")
    rules_commands.add_parser("schema", help="print the JSON Schema of rule files")
    keys = commands.add_parser("keys", help="API keys of upstream clients")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    add = keys_commands.add_parser("add", help="create a key; printed once")
    add.add_argument("client")
    add.add_argument("--events", nargs="*", help="allowed event types, e.g. 'appointment.*'")
    add.add_argument(
        "--scopes",
        default="events",
        help="what the key may do, comma-separated: events (post events, read their "
        "messages), recipients (register recipients), erase (erase recipients), ops (the "
        "support console); default: events",
    )
    add.add_argument(
        "--tenant",
        help="share subjects and messages with the other clients of this tenant "
        "(default: the client's own)",
    )
    keys_commands.add_parser("revoke", help="remove a client's keys").add_argument("client")
    keys_commands.add_parser("list", help="clients: tenant, scopes, event types they may post")
    vapid = commands.add_parser("vapid", help="web push keys")
    vapid.add_subparsers(dest="vapid_command", required=True).add_parser(
        "generate", help="print a new VAPID key pair"
    )
    templates = commands.add_parser("templates", help="template tools")
    templates_commands = templates.add_subparsers(dest="templates_command", required=True)
    render = templates_commands.add_parser("preview", help="render one template")
    render.add_argument("name", help="template name, e.g. appointment_reminder")
    channels = [str(channel) for channel in plugins()]
    render.add_argument("--channel", choices=channels, default=channels[0])
    render.add_argument("--locale", default="fr")
    render.add_argument("--timezone", default="Europe/Paris")
    render.add_argument("--data", help="JSON file: the event's data, or a whole event")
    render.add_argument(
        "--needs",
        nargs="*",
        choices=["written_contact_only", "screen_reader", "easy_read", "no_smartphone"],
    )
    render.add_argument("--templates", help="templates folder (default: NOTIFIER_TEMPLATES_DIR)")
    return parser


RULES_HANDLERS = {
    "check": cmd_rules_check,
    "preview": cmd_rules_preview,
    "schema": cmd_rules_schema,
}
HANDLERS = {
    "run": cmd_run,
    "api": cmd_api,
    "scheduler": cmd_scheduler,
    "worker": cmd_worker,
}


def main(argv: list[str] | None = None) -> int:
    from notifier.config_errors import CONFIG_ERRORS, describe

    args = build_parser().parse_args(argv)
    try:
        return _dispatch(get_settings(), args)
    except CONFIG_ERRORS as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "rules":
        return RULES_HANDLERS[args.rules_command](settings, args)
    if args.command == "templates":
        return cmd_templates_preview(settings, args)
    if args.command == "vapid":
        return cmd_vapid_generate(settings, args)
    if args.command == "keys":
        return cmd_keys(settings, args)
    return HANDLERS[args.command](settings, args)
