"""Configuration mistakes, told in a line naming the setting instead of a traceback.

Every ``notifier`` command catches :data:`CONFIG_ERRORS` around its work, prints
:func:`describe` and exits 2.
"""

from __future__ import annotations

import re

import redis
from pydantic import ValidationError
from pydantic_settings import SettingsError

from notifier.file_errors import RuleSetError

CONFIG_ERRORS = (
    ValidationError,
    SettingsError,
    RuleSetError,
    RuntimeError,
    redis.ConnectionError,
)


def describe(exc: BaseException) -> str:
    """What is wrong and which setting to change; never the value of a setting (a secret)."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            "".join(
                f"NOTIFIER_{'_'.join(map(str, error['loc'])).upper()}: " for _ in error["loc"][:1]
            )
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors(include_url=False)
        )
    if isinstance(exc, SettingsError):  # a setting holding a list or a mapping, not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"NOTIFIER_{field[1].upper()}" if field else "a setting"
        return f"{name}: not valid JSON"
    if isinstance(exc, RuleSetError):
        return (
            f"{len(exc.errors)} error(s) in the rules or templates (NOTIFIER_RULES_DIR, "
            f"NOTIFIER_TEMPLATES_DIR):\n{exc}"
        )
    if isinstance(exc, redis.ConnectionError):
        return f"cannot reach Redis ({exc}): check NOTIFIER_REDIS_URL or NOTIFIER_REDIS_SENTINELS"
    return str(exc)
