"""Settings: environment parsing, secrets, and the README table kept complete."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from notifier.channels.registry import settings_models
from notifier.runtime.settings import Settings
from tests.support.builders import ROOT


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [n for n in Settings.model_fields if f"`NOTIFIER_{n.upper()}`" not in readme]
    assert missing == []


@pytest.mark.parametrize(
    "model", settings_models(), ids=[model.__module__ for model in settings_models()]
)
def test_a_channels_settings_are_the_rows_of_its_own_table(model: type) -> None:
    """In the README, the table after the channel module's name lists its settings."""
    readme = (ROOT / "README.md").read_text()
    path = model.__module__.replace(".", "/") + ".py"
    table = readme[readme.index(f"(`{path}`):") :].split("\n\n")[1]
    rows = re.findall(r"^\| `NOTIFIER_(\w+)` \|", table, re.M)
    assert rows == [name.upper() for name in model.model_fields]


def test_api_keys_from_environment_are_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_API_KEYS", '{"crm": "a-long-secret"}')
    settings = Settings()
    assert settings.api_keys["crm"].get_secret_value() == "a-long-secret"
    assert "a-long-secret" not in repr(settings)


def test_short_api_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_API_KEYS", '{"crm": "short"}')
    with pytest.raises(ValidationError, match="shorter than 8"):
        Settings()


@pytest.mark.parametrize(
    "name",
    [
        "crm|unit-75",
        "crm:other",
        "a,b",
        "line\nbreak",
        "crm\n",
        "nul\u0000",
        "",
        "-dash",
        "x" * 65,
        "é",
    ],
    ids=[
        "bar",
        "colon",
        "comma",
        "newline",
        "trailing-newline",
        "nul",
        "empty",
        "leading-dash",
        "too-long",
        "accent",
    ],
)
def test_a_client_name_the_store_could_misread_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A client's name is part of idempotency keys (``{client}:{event id}``) and indexes:
    ``crm:a`` posting event ``b`` and ``crm`` posting ``a:b`` would be the same event."""
    monkeypatch.setenv("NOTIFIER_API_KEYS", json.dumps({name: "a-long-secret"}))
    with pytest.raises(ValidationError, match="client name"):
        Settings()


def test_broker_uses_its_own_database() -> None:
    settings = Settings(broker_redis_db=3)
    assert settings.broker_url("redis://127.0.0.1:6390/0") == "redis://127.0.0.1:6390/3"
    assert settings.broker_url("redis://:pw@host:1") == "redis://:pw@host:1/3"
