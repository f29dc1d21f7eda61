"""Builders shared by the tests: sample events, rules, API clients, scripted transports."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from notifier.app import create_app
from notifier.channels.base import Outcome, OutgoingMessage, SendResult
from notifier.channels.outbox import OutboxTransport
from notifier.channels.webpush import generate_vapid_keys
from notifier.delivery.attempt import Deliverer
from notifier.delivery.decisions import RetryPolicy
from notifier.links import PAGES, Grant, Links
from notifier.models import Channel, Event, MessageStatus
from notifier.rules.engine import plan
from notifier.rules.loader import RuleSet, load_rule_texts, rules_holder
from notifier.runtime.settings import Settings
from notifier.store import PREFIX, Claimed, Store
from notifier.store.apikeys import ApiKeys, Scope
from notifier.store.recipients import RecipientStore
from notifier.templates.renderer import Renderer
from notifier.urls import PUSH_SERVICES
from tests.support.browser import serve
from tests.support.fake_push import LOOPBACK_PUSH

ROOT = Path(__file__).resolve().parents[2]


EXAMPLES = ROOT / "examples"


TEMPLATES = EXAMPLES / "templates"


NOW = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)


CONTACT_KEY = b"test-contact-key-0123456789abcdef"  # NOTIFIER_SECRET_KEY of in-process tests


def make_event(**overrides: Any) -> Event:
    """An ``appointment.booked`` event three days after :data:`NOW`, fields overridable."""
    base: dict[str, Any] = {
        "id": "evt-1",
        "type": "appointment.booked",
        "occurred_at": NOW.isoformat(),
        "subject": "appointment:BRG-75-00042",
        "recipient": {
            "id": "citizen-1",
            "locale": "fr",
            "timezone": "Europe/Paris",
            "contacts": {"phone": "+33612345678", "email": "jeanne.martin@example.org"},
        },
        "data": {
            "starts_at": (NOW + timedelta(days=3)).isoformat(),
            "unit": "Brigade de Paris 7e",
            "address": "12 rue Exemple, 75007 Paris",
        },
    }
    base.update(overrides)
    return Event.model_validate(base)


API_KEY = "test-key-123"  # the environment key of tenant "crm" in the `client` fixture


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + key}


AUTH = bearer(API_KEY)


def post_event(client: TestClient, key: str, **fields: Any) -> httpx.Response:
    """``POST /v1/events`` of :func:`make_event` with ``fields``, as the client holding ``key``."""
    return client.post(
        "/v1/events", json=make_event(**fields).model_dump(mode="json"), headers=bearer(key)
    )


@contextmanager
def api_client(
    store: Store, rules_yaml: str, folder: Path, keys: dict[str, str], **settings: Any
) -> Iterator[TestClient]:
    """The HTTP API in-process over ``store``, with ``rules_yaml`` as its only rule file and
    the clock at :data:`NOW` (override with ``clock=``)."""
    clock = settings.pop("clock", lambda: NOW)
    templates = settings.pop("templates", None)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.yaml").write_text(rules_yaml)
    settings.setdefault("secret_key", CONTACT_KEY.decode())
    config = Settings(api_keys=keys, rules_reload_seconds=0, **settings)
    app = create_app(config, store, rules_holder(folder), templates=templates, clock=clock)
    with TestClient(app) as client:
        yield client


def rules_from(yaml_text: str, name: str = "test.yaml") -> RuleSet:
    return load_rule_texts([(name, yaml_text)])


REMINDER_RULES = """
rules:
  - id: reminder-48h
    trigger: [appointment.booked, appointment.rescheduled]
    at: 48h before data.starts_at
    expires: data.starts_at
    template: appointment_reminder
    channels: [sms, email]
    cancel_on: [appointment.cancelled]
  - id: reminder-2h
    trigger: [appointment.booked, appointment.rescheduled]
    at: 2h before data.starts_at
    expires: data.starts_at
    template: appointment_reminder
    channels: [sms, email]
    cancel_on: [appointment.cancelled]
  - id: status-now
    trigger: [procedure.status_changed]
    at: immediately
    template: procedure_status
    channels: [email]
    replace_pending: false
"""


RULES = rules_from(REMINDER_RULES)


DUE = NOW + timedelta(days=1)


class ScriptedTransport:
    timeout = 0.0

    def __init__(self, *outcomes: SendResult) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return self.outcomes.pop(0)


LEASE = timedelta(minutes=5)


def claim(store: Store, at: datetime, limit: int = 20) -> list[Claimed]:
    """What is due at ``at``, claimed as the scheduler claims it (a five-minute lease)."""
    return store.claim_due(at, limit=limit, lease=LEASE)


def schedule(store: Store, **event_fields: object) -> Claimed:
    event = make_event(**event_fields)
    store.accept(f"c:{event.id}", plan(event, RULES, NOW), NOW, ttl=60)
    claimed = claim(store, DUE, limit=1)
    assert claimed
    return claimed[0]


def deliverer(
    store: Store,
    transports: Mapping[Channel, Any],
    *,
    at: datetime | None = DUE,
    templates: Path = TEMPLATES,
    **options: Any,
) -> Deliverer:
    """The worker's Deliverer over ``store`` and the example templates, its clock stopped at
    ``at`` (``None``: the real clock). Quick and repeatable unless ``options`` say otherwise:
    retries 10 s apart at first and 3 attempts at most, seeded jitter, and no nap while
    another attempt's provider call is under way (``sleep=None``: wait on ``stopping``, as the
    worker does). Every other option is Deliverer's own, with its default."""
    options.setdefault("retry", RetryPolicy(base=timedelta(seconds=10), max_attempts=3))
    options.setdefault("rng", random.Random(1))
    options.setdefault("sleep", lambda seconds: None)
    if at is not None:
        options.setdefault("clock", lambda: at)
    return Deliverer(store, Renderer(templates), transports, **options)


def deliver_all(
    worker: Deliverer, at: datetime, limit: int = 20
) -> dict[str, MessageStatus | None]:
    """Claim what is due at ``at`` and deliver it with ``worker``: each message's status, by
    its id, in the order claimed."""
    return {
        c.message_id: worker.deliver(c.message_id, c.claim) for c in claim(worker.store, at, limit)
    }


def deliver_due(store: Store, at: datetime, cap: int = 20) -> list[str]:
    """Deliver what is due at ``at`` through the worker's logic (at most ``cap`` messages per
    recipient an hour); the addresses sent to."""
    transport = ScriptedTransport(*[SendResult(Outcome.SENT)] * 10)
    worker = deliverer(
        store,
        {Channel.SMS: transport, Channel.EMAIL: transport},
        at=at,
        recipients=RecipientStore(store.redis, contact_key=CONTACT_KEY),
        recipient_cap=(cap, timedelta(hours=1)),
    )
    deliver_all(worker, at)
    return [m.address for m in transport.sent]


KEY = "pages-key-123456"


TENANT = "crm"  # the tenant of KEY, an environment key: its name


VAPID_PRIVATE, VAPID_PUBLIC = generate_vapid_keys()


SCREENSHOTS = ROOT / "docs" / "screenshots"


def screenshots(page: Page, name: str, widths: tuple[int, ...] = (375, 1280)) -> None:
    """With ``UPDATE_SCREENSHOTS=1``, the page at each width, to docs/screenshots/."""
    if not os.environ.get("UPDATE_SCREENSHOTS"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)


PAGE_PATHS = {"preferences": "", "needs": "/needs", "device": "/device", "history": "/history"}


def settings(**overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "api_keys": {"crm": KEY},
        "rules_reload_seconds": 0,
        "secret_key": CONTACT_KEY.decode(),
        "public_url": "https://notifications.example.gouv.fr",
        "vapid_private_key": VAPID_PRIVATE,
        "vapid_subject": "mailto:dpo@example.gouv.fr",
        # the loopback push service of the end-to-end test, beside the browsers' own
        "push_allowed_hosts": [*PUSH_SERVICES, *LOOPBACK_PUSH],
    }
    return Settings(**(defaults | overrides))


class Site:
    def __init__(self, url: str, store: Store, config: Settings) -> None:
        self.url, self.store, self.config = url, store, config
        self.links = Links(config.secret(), url, ttl=timedelta(days=30))
        self.recipients = RecipientStore(store.redis, contact_key=config.secret())

    def post(self, **fields: Any) -> list[str]:
        body = make_event(**fields).model_dump(mode="json")
        answer = httpx.post(f"{self.url}/v1/events", json=body, headers=bearer(KEY))
        assert answer.status_code == 202, answer.text
        return [p["id"] for p in answer.json()["planned"]]

    def pages(self, recipient: str = "citizen-1", path: str = "", lang: str = "fr") -> str:
        token = self.links.token(Grant(recipient, PAGES, tenant=TENANT))
        return f"{self.url}/me/{token}{path}?lang={lang}"


@contextmanager
def serve_site(store: Store, **overrides: Any) -> Iterator[Site]:
    """The whole app (the example rules, the clock at :data:`NOW`, :func:`settings` with
    ``overrides``) on a loopback port until the block ends."""
    config = settings(**overrides)
    app = create_app(config, store, rules_holder(EXAMPLES / "rules"), clock=lambda: NOW)
    with serve(app) as url:
        yield Site(url, store, config)


class Console(Site):
    def __init__(self, site: Site, agent_key: str, reader_key: str) -> None:
        super().__init__(site.url, site.store, site.config)
        self.agent_key, self.reader_key = agent_key, reader_key

    def login(self, page: Page, key: str | None = None) -> None:
        page.goto(f"{self.url}/ops/login")
        page.get_by_label("Votre clé d'agent").fill(key or self.agent_key)
        page.get_by_role("button", name="Se connecter").click()


@pytest.fixture
def console(store: Store) -> Iterator[Console]:
    keys = ApiKeys(store.redis, {})
    agent = keys.add("agent-1", [], scopes={Scope.OPS})
    reader = keys.add("reader", [], scopes={Scope.EVENTS})
    # the store as `notifier api` builds it
    with serve_site(Store(store.redis, contact_key=CONTACT_KEY)) as site:
        # its public URL is where it is served (http): the session cookie is not ``Secure``
        # there, and an HTTP client keeps sending it
        site.config.public_url = site.url
        yield Console(site, agent, reader)


DISCREET = {
    "id": "citizen-d",
    "locale": "fr",
    "timezone": "Europe/Paris",
    "contacts": {"phone": "+33612345678", "email": "jeanne.martin@example.org"},
    "safety": {"discreet": True},
}


@contextmanager
def safe_site(store: Store) -> Iterator[Site]:
    """The API on loopback with two booked citizens: ``citizen-1`` without safety settings,
    ``citizen-d`` with discreet messages (:data:`DISCREET`); the quick exit leads to a neutral
    page on loopback; its public URL is where it is served (http: the code's session cookie
    is not ``Secure`` there, and a client keeps sending it)."""
    with serve_site(store) as site:
        site.config.quick_exit_url = f"{site.url}/static/exit.css"
        site.config.public_url = site.url
        site.post(id="booked")
        site.post(id="booked-d", recipient=DISCREET, subject="appointment:BRG-75-00043")
        yield site


def wrong_codes(site: Site, recipient: str, count: int) -> list[tuple[str, int]]:
    """``count`` wrong codes for ``recipient``'s pages, each once the slowing after the one
    before has run out (its "not before" key expired); the verdicts."""
    verdicts = []
    for _ in range(count):
        verdicts.append(site.recipients.check_code(TENANT, recipient, "000000"))
        site.store.redis.delete(f"{PREFIX}code-tries:{TENANT}|{recipient}:wait")
    return verdicts


def deliver_next(site: Site, tmp_path: Path) -> dict[str, Any]:
    """Claim what is due and deliver it through the real worker logic; the outbox record."""
    outbox = OutboxTransport(tmp_path / "outbox")
    # 10:00 in Paris: outside quiet hours
    worker = deliverer(
        site.store, dict.fromkeys(Channel, outbox), at=NOW, recipients=site.recipients
    )
    assert set(deliver_all(worker, NOW).values()) <= {MessageStatus.SENT}
    (latest,) = sorted((tmp_path / "outbox").glob("*.json"))[-1:]
    return dict(json.loads(latest.read_text()))


def one_rule(body: str) -> RuleSet:
    return rules_from("rules:\n  - id: r\n    template: t\n    channels: [sms]\n" + body)


APPOINTMENT = {
    "starts_at": "2026-12-10T10:30:00+01:00",
    "unit": "Brigade de gendarmerie de Paris 7e",
    "address": "12 rue Exemple, 75007 Paris",
    "unit_phone": "01 45 00 00 00",
}


SAMPLES = {
    "appointment_confirmation": APPOINTMENT,
    "appointment_reminder": APPOINTMENT,
    "appointment_moved": APPOINTMENT,
    "appointment_cancelled": APPOINTMENT,
    "procedure_status": {"reference": "PLAINTE-2026-118", "status_label": "transmise au parquet"},
    "push_test": {},
    "document_available": {
        "document_label": "récépissé de plainte",
        "how_to_get": "Il est à retirer à l'accueil de la brigade, du lundi au samedi.",
    },
}


LINKS = {
    "pages": "https://notifications.example.gouv.fr/me/signed-token",
    "unsubscribe": "https://notifications.example.gouv.fr/u/signed-token",
}


def shipped_templates(channel: Channel | None = None) -> list[str]:
    """Every shipped template; with ``channel``, those that have it (``push_test`` is only
    a push)."""
    return sorted(
        p.name
        for p in TEMPLATES.iterdir()
        if p.is_dir()
        and not p.name.startswith("_")
        and (channel is None or any((p / "fr").glob(f"{channel.value}.*.j2")))
    )
