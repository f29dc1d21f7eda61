"""Each channel declares its settings on its plug-in, and ``Settings`` is composed of them:
a new channel's settings are read, checked and reported with no edit to runtime/settings.py."""

from __future__ import annotations

import filecmp
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from notifier.channels.registry import settings_models
from notifier.runtime.settings import Settings
from tests.support.builders import ROOT

# A channel as its author would write it: its module and its member of the Channel enum.
TOY_MODULE = """
from pydantic import Field, field_validator

from notifier.channels.outbox import OutboxTransport
from notifier.channels.registry import ChannelSettings, Plugin, register
from notifier.models import Channel


class ToySettings(ChannelSettings):
    toy_token: str | None = Field(default=None, description="The toy provider's token.")
    rate_limit_toy_per_second: int = Field(default=3, description="Toys per second.")

    @field_validator("toy_token")
    @classmethod
    def _toy_token_long_enough(cls, token: str | None) -> str | None:
        if token is not None and len(token) < 8:
            raise ValueError("must be at least 8 characters")
        return token


class ToyTransport(OutboxTransport):
    pass


PLUGIN = register(
    Plugin(
        Channel("toy"),
        address=lambda contacts: None,
        shown=None,
        excluded_by={},
        labels={},
        required_parts=("text",),
        optional_parts=(),
        settings=ToySettings,
        configured=lambda s: ToySettings.of(s).toy_token is not None,
        build=lambda s: ToyTransport(s.outbox_dir),
        rate_limit=lambda s: ToySettings.of(s).rate_limit_toy_per_second,
    )
)
"""

# Run in the copy: what the settings read, what the registry builds, what a mistake says.
PROBE = """
import json
from pydantic import ValidationError
import notifier
from notifier.channels import transports_for
from notifier.channels.registry import plugins
from notifier.config_errors import describe
from notifier.models import Channel
from notifier.runtime.settings import Settings

toy = Channel("toy")
try:
    Settings(toy_token="short")
    mistake = None
except ValidationError as exc:
    mistake = describe(exc)
settings = Settings()
print(json.dumps({
    "package": notifier.__file__,
    "token": settings.toy_token,
    "rate": plugins()[toy].rate_limit(settings),
    "transport": type(transports_for(settings)[toy]).__name__,
    "unset": type(transports_for(Settings(toy_token=None))[toy]).__name__,
    "mistake": mistake,
}))
"""


def with_a_toy_channel(folder: Path) -> Path:
    """A copy of the notifier package with one more channel: its module, its enum member."""
    copy = folder / "notifier"
    shutil.copytree(ROOT / "notifier", copy, ignore=shutil.ignore_patterns("static", "__pycache__"))
    (copy / "channels" / "toy.py").write_text(TOY_MODULE)
    models = copy / "models.py"
    enum = '    WEBPUSH = "webpush"\n'
    assert enum in models.read_text()
    models.write_text(models.read_text().replace(enum, enum + '    TOY = "toy"\n'))
    return copy


def test_a_new_channel_declares_its_settings_in_its_own_module(tmp_path: Path) -> None:
    copy = with_a_toy_channel(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env |= {
        "PYTHONPATH": str(tmp_path),
        "NOTIFIER_TOY_TOKEN": "toy-token-123",
        "NOTIFIER_RATE_LIMIT_TOY_PER_SECOND": "7",
        "NOTIFIER_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["package"] == str(copy / "__init__.py")  # the copy, not the installed one
    assert seen["token"] == "toy-token-123"
    assert seen["rate"] == 7
    assert (seen["transport"], seen["unset"]) == ("ToyTransport", "OutboxTransport")
    assert seen["mistake"] == "NOTIFIER_TOY_TOKEN: must be at least 8 characters"
    assert filecmp.cmp(copy / "runtime" / "settings.py", ROOT / "notifier/runtime/settings.py")


def declared(model: type[BaseModel]) -> set[str]:
    """The names ``model`` itself declares: its fields, validators and methods."""
    fields = set(inspect.get_annotations(model))
    return fields | {n for n in vars(model) if not n.startswith("__")} - {
        "model_config",
        "_abc_impl",
    }


def test_every_name_is_declared_in_one_place() -> None:
    """The models are one class: a field, a validator or a method named like another
    channel's, or like the engine's, would silently replace it."""
    names = [name for model in (*settings_models(), Settings) for name in declared(model)]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
    assert set(names) >= set(Settings.model_fields)
