"""Schemathesis against the API's own OpenAPI schema, with every check it has.

Runs in-process (ASGI) with a valid API key over a real Valkey server, so generated events
reach the rules engine and the store. Each operation gets schema-valid (positive) and
schema-violating (negative) requests, each answer checked by all of Schemathesis's checks:
no 5xx, every status code documented, response bodies and headers as the schema says,
invalid data refused, valid data accepted. Then stateful runs follow the schema's links
(an event → the message it planned; a recipient → its reads, push subscription, erasure).
Schemathesis's hypothesis strategies are driven directly (its pytest plugin does not support
pytest 9 yet).

One deliberate setting: ``positive_data_acceptance`` also accepts 422. A schema-valid event
can still be refused for what a schema cannot say — a recipient id that is not registered,
or data a planned message needs — and 422 naming the field is this API's answer to that.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from notifier.app import create_app
from notifier.rules.loader import rules_holder
from notifier.runtime.settings import Settings
from notifier.store import Store
from tests.support.builders import CONTACT_KEY, EXAMPLES

AUTH = {"Authorization": "Bearer fuzz-key-123456"}
EXAMPLES_PER_MODE = {GenerationMode.POSITIVE: 80, GenerationMode.NEGATIVE: 70}
CASES: Counter[str] = Counter()
CONFIG = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"""
)


def make_app(store: Store | None = None) -> Any:
    config = Settings(
        api_keys={"fuzz": "fuzz-key-123456"},
        rules_reload_seconds=0,
        twilio_auth_token="token",
        twilio_status_callback_url="https://notifier.example/v1/callbacks/twilio",
        secret_key=CONTACT_KEY.decode(),
    )
    return create_app(
        config, store or Store.from_url("redis://127.0.0.1:1/0"), rules_holder(EXAMPLES / "rules")
    )


def load(store: Store | None = None) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", make_app(store), config=CONFIG)


OPERATIONS = [f"{r.ok().method.upper()} {r.ok().path}" for r in load().get_all_operations()]
PARAMETERLESS = {"GET /healthz", "GET /metrics"}


@pytest.fixture
def quiet() -> Iterator[None]:
    """Thousands of refused requests: their log lines would drown the report."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("mode", list(EXAMPLES_PER_MODE), ids=lambda m: m.value)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_check_holds(operation: str, mode: GenerationMode, store: Store, quiet: None) -> None:
    method, path = operation.split(" ", 1)
    strategy = load(store)[path][method].as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_MODE[mode],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        CASES[f"{operation} {mode.value}"] += 1
        case.call_and_validate(headers=AUTH)

    try:
        run()
    except Unsatisfiable:  # an operation with no input at all: nothing to break
        assert mode is GenerationMode.NEGATIVE and operation in PARAMETERLESS


def test_stateful_links(store: Store, quiet: None) -> None:
    schema = load(store)

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            CASES["stateful"] += 1
            return {"headers": AUTH}

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    assert CASES["stateful"] >= 40


def test_over_fifteen_hundred_cases_ran() -> None:
    """Runs after the generated tests above (pytest keeps the file's order)."""
    expected = {f"{o} {m.value}" for o in OPERATIONS for m in EXAMPLES_PER_MODE} - {
        f"{o} negative" for o in PARAMETERLESS
    }
    assert expected <= set(CASES), "run the whole module: the count needs every operation"
    total = sum(CASES.values())
    print(f"\nschemathesis: {total} requests, every check passed: {dict(CASES)}")
    assert total >= 1500, dict(CASES)


def test_options_lists_every_method_of_the_path(store: Store) -> None:
    schema = load(store).raw_schema
    with TestClient(make_app(store)) as client:
        for path, operations in schema["paths"].items():
            concrete = path.replace("{recipient_id}", "citizen-1").replace(
                "{message_id}", "AAAAAAAAAAAAAAAA"
            )
            response = client.options(concrete)
            assert response.status_code == 204, path
            allowed = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allowed == {m.upper() for m in operations} | {"OPTIONS"}, path
        assert client.options("/nowhere").status_code == 404


def test_fields_notifier_sets_are_read_only(store: Store) -> None:
    components = load(store).raw_schema["components"]["schemas"]
    for name in ("EventAccepted", "MessageOut", "BatchAnswer", "PlannedOut"):
        assert all(p.get("readOnly") for p in components[name]["properties"].values()), name
    assert components["Recipient"]["properties"]["blocked"]["readOnly"] is True


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("POST", "/v1/events", b"\xff\xfe{}", 400, id="event-not-utf8"),
        pytest.param("POST", "/v1/events", b'{"id": "\xff"}', 400, id="event-string-not-utf8"),
        pytest.param("POST", "/v1/events", b'{"id": ', 400, id="event-not-json"),
        pytest.param(
            "POST",
            "/v1/callbacks/twilio?message_id=AAAAAAAAAAAAAAAA",
            b"a=\xff",
            400,
            id="callback-form-not-utf8",
        ),
        pytest.param("POST", "/v1/events", b"x" * 300_000, 413, id="event-too-large"),
        pytest.param("GET", "/v1/messages/AAAAAAAAAAAAAAAA", None, 404, id="message-unknown"),
    ],
)
def test_each_refusal_is_documented(
    store: Store, method: str, path: str, body: bytes | None, status: int
) -> None:
    schema = load(store).raw_schema
    with TestClient(make_app(store)) as client:
        headers = AUTH | {"Content-Type": "application/json", "X-Twilio-Signature": "x"}
        response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == status
    documented = schema["paths"][path.split("?")[0].replace("AAAAAAAAAAAAAAAA", "{message_id}")]
    assert str(status) in documented[method.lower()]["responses"]
