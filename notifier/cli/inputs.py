"""What a command reads from its arguments (files, times), each mistake told in one line
naming the file and the field, instead of a traceback."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class InputError(Exception):
    """A file given on the command line that cannot be used; the message names it."""


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise InputError(f"{path}: {reason}") from None


def read_object(path: Path) -> dict[str, Any]:
    """``path``'s JSON object."""
    try:
        found = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: Invalid JSON: {exc}") from None
    if not isinstance(found, dict):
        raise InputError(f"{path}: not a JSON object")
    return found


def read_model(path: Path, model: type[Model]) -> Model:
    """``path``'s JSON as ``model``; each field it lacks or gets wrong named."""
    try:
        return model.model_validate_json(read_text(path))
    except ValidationError as exc:
        said = "; ".join(
            (".".join(map(str, e["loc"])) + ": " if e["loc"] else "") + e["msg"]
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise InputError(f"{path}: {said}") from None


def aware_time(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (an ``argparse`` type: a usage error otherwise)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("needs a UTC offset, e.g. 2026-12-01T09:00:00+01:00")
    return when
