"""Schemathesis against the API's own OpenAPI schema: over 1 000 generated requests, no 5xx.

Runs in-process (ASGI) with a valid API key over a real Valkey server, so generated events
reach the rules engine and the store. Schemathesis's hypothesis strategies are driven
directly, one test per operation (its pytest plugin does not support pytest 9 yet).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from notifier.api import create_app
from notifier.reloading import rules_holder
from notifier.settings import Settings
from notifier.store import Store
from tests.conftest import EXAMPLES

AUTH = {"Authorization": "Bearer fuzz-key-123456"}
EXAMPLES_PER_OPERATION = 150
CASES: Counter[str] = Counter()


def make_app(store: Store | None = None) -> Any:
    config = Settings(
        api_keys={"fuzz": "fuzz-key-123456"},
        rules_reload_seconds=0,
        twilio_auth_token="token",
        twilio_status_callback_url="https://notifier.example/v1/callbacks/twilio",
    )
    return create_app(
        config, store or Store.from_url("redis://127.0.0.1:1/0"), rules_holder(EXAMPLES / "rules")
    )


OPERATIONS = [
    f"{r.ok().method.upper()} {r.ok().path}"
    for r in schemathesis.openapi.from_asgi("/openapi.json", make_app()).get_all_operations()
]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_server_error(operation: str, store: Store) -> None:
    method, path = operation.split(" ", 1)
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_app(store))
    strategy = schema[path][method].as_strategy()

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        response = case.call(headers=AUTH)
        CASES[operation] += 1
        assert response.status_code < 500, (operation, response.status_code, response.text[:300])

    run()


def test_over_a_thousand_cases_ran() -> None:
    """Runs after the generated tests above (pytest keeps the file's order)."""
    assert set(CASES) == set(OPERATIONS), "run the whole module: the count needs every operation"
    total = sum(CASES.values())
    print(f"\nschemathesis: {total} generated requests, no 5xx: {dict(CASES)}")
    assert total >= 1000, dict(CASES)
