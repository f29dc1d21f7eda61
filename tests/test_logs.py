"""Personal data never reaches a log line: the masking filter as the last line of defence."""

from __future__ import annotations

import logging

import pytest

from notifier.logs import MaskingFilter, mask


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
