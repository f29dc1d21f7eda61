"""Logging for every notifier process, with personal data masked on the way out.

Code should not log contacts in the first place; the masking filter is the safety net for
what slips through (an exception message quoting a provider's answer, say). It rewrites
e-mail addresses and phone numbers in every record before any handler formats it, and
escapes control characters and line separators, so that no input (a path, a provider's
error text) can write a line of its own into the log.
"""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# A phone number: optional +, then 8 to 15 digits possibly split by spaces, dots or dashes.
_PHONE = re.compile(r"(?<![\w.])(\+?\d(?:[ .-]?\d){7,14})(?![\w])")


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    prefix = "+" if match.group(1).startswith("+") else ""
    return f"{prefix}{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``a\\nb`` → ``a\\\\x0ab``: one record, one line, whatever its arguments hold."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def mask(text: str) -> str:
    """``jeanne.martin@example.org`` → ``j***@example.org``; ``+33612345678`` → ``+33*******78``."""
    text = _EMAIL.sub(r"\1***@\2", text)
    return _PHONE.sub(_mask_phone, text)


class MaskingFilter(logging.Filter):
    """Replaces a record's message with its masked rendering (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = escape_controls(mask(message))
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(level: str = "INFO", process: str = "notifier") -> None:
    """One line per record on stderr, personal data masked; safe to call more than once."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_notifier", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._notifier = True  # type: ignore[attr-defined]
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s {process}[%(process)d] %(name)s: %(message)s")
    )
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
