"""Personal data never reaches a log line: the masking filter as the last line of defence."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from notifier.runtime.logs import MaskingFilter, escape_controls, mask
from notifier.store import Store
from tests.support.builders import REMINDER_RULES, api_client


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("to jeanne.martin@example.org", "to j***@example.org"),
        ("phone +33612345678 failed", "phone +33*******78 failed"),
        ("phone 06 12 34 56 78 failed", "phone 06******78 failed"),
        ("+262 692 12 34 56", "+26********56"),
        ("message 2c54058dd8f95e3a83052c35 sent", "message 2c54058dd8f95e3a83052c35 sent"),
        ("took 1.5s, 3 retries", "took 1.5s, 3 retries"),
    ],
    ids=[
        "email",
        "phone-e164",
        "phone-national-spaced",
        "phone-overseas-spaced",
        "message-id-kept",
        "figures-kept",
    ],
)
def test_mask(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_filter_masks_arguments_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.masking")
    handler = caplog.handler
    handler.addFilter(MaskingFilter())
    try:
        logger.warning("sending to %s", "paul@example.org")
        try:
            raise ValueError("invalid number +33612345678")
        except ValueError:
            logger.exception("provider said no")
    finally:
        handler.removeFilter(handler.filters[-1])
    output = caplog.text
    assert "paul@example.org" not in output and "p***@example.org" in output
    assert "+33612345678" not in output and "+33*******78" in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x\n2026-11-29 INFO api FORGED line", "x\\n2026-11-29 INFO api FORGED line"),
        ("carriage\rreturn", "carriage\\rreturn"),
        ("escape \x1b[31mred", "escape \\x1b[31mred"),
        ("nul\x00byte", "nul\\x00byte"),
        ("next line\x85C1", "next line\\x85C1"),
        ("line\u2028separator", "line\\u2028separator"),
        ("tab\tkept escaped", "tab\\tkept escaped"),
        ("ordinary é à 10 h 30", "ordinary é à 10 h 30"),
    ],
    ids=[
        "forged-line",
        "carriage-return",
        "ansi-escape",
        "nul",
        "next-line-c1",
        "line-separator",
        "tab",
        "accents-kept",
    ],
)
def test_control_characters_are_escaped(text: str, expected: str) -> None:
    assert escape_controls(text) == expected


def test_no_argument_writes_a_line_of_its_own(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.controls")
    caplog.handler.addFilter(MaskingFilter())
    try:
        logger.warning("recipient %s erased", "x\n2026-11-29 00:00:00 INFO api: FORGED line")
    finally:
        caplog.handler.removeFilter(caplog.handler.filters[-1])
    assert len(caplog.text.strip().splitlines()) == 1
    assert "x\\n20" in caplog.text and "FORGED line erased" in caplog.text


def test_an_id_in_a_path_with_a_control_character_is_refused(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It never reaches a route, so it never reaches a log line either."""
    with api_client(store, REMINDER_RULES, tmp_path, {"crm": "key-12345678"}) as client:
        caplog.set_level(logging.INFO)
        forged = "x%0A2026-11-29%2000:00:00%20INFO%20FORGED%20line"
        headers = {"Authorization": "Bearer key-12345678"}
        for method, path in [
            ("DELETE", f"/v1/recipients/{forged}"),
            ("GET", f"/v1/recipients/{forged}"),
            ("GET", f"/v1/messages/{forged}"),
        ]:
            response = client.request(method, path, headers=headers)
            assert response.status_code == 422, (method, path)
            assert response.json()["detail"][0]["loc"][0] == "path"
    assert not [r for r in caplog.records if r.name.startswith("notifier")]
