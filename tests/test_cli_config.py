"""The command line beside a running `make run`, and configuration mistakes in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from notifier.runtime.redis_server import embedded_server, free_port


def notifier(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``notifier ARGS`` with no NOTIFIER_* setting but ``env``, in ``cwd`` (no .env there)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    return subprocess.run(
        [sys.executable, "-m", "notifier", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_find_the_embedded_server_of_the_same_data_folder(tmp_path: Path) -> None:
    server = embedded_server(tmp_path / "var" / "valkey", free_port())  # as `notifier run` does
    server.start()
    try:
        added = notifier(tmp_path, "keys", "add", "booking-system")
        assert added.returncode == 0, added.stderr
        listed = notifier(tmp_path, "keys", "list")
        assert listed.stdout.startswith("booking-system\ttenant=booking-system"), listed.stderr
    finally:
        server.stop()
    stopped = notifier(tmp_path, "keys", "list")
    assert stopped.returncode == 2
    (line,) = stopped.stderr.splitlines()
    assert line.startswith(
        "error: neither NOTIFIER_REDIS_URL nor NOTIFIER_REDIS_SENTINELS is set, and no embedded "
        "server runs"
    )


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"NOTIFIER_API_PORT": "eighty"}, "NOTIFIER_API_PORT"),
        ({"NOTIFIER_SECRET_KEY": "short"}, "NOTIFIER_SECRET_KEY"),
        ({"NOTIFIER_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "NOTIFIER_REDIS_URL"),
        ({"NOTIFIER_SMTP_SECURITY": "plain"}, "NOTIFIER_SMTP_SECURITY"),
        ({"NOTIFIER_PUSH_ALLOWED_HOSTS": '["http://10.0.0.1"]'}, "NOTIFIER_PUSH_ALLOWED_HOSTS"),
    ],
    ids=[
        "not-a-number",
        "too-short-secret",
        "nobody-listens",
        "channel-setting-not-a-choice",
        "channel-setting-refused-by-its-check",
    ],
)
def test_a_configuration_mistake_is_one_line_naming_the_setting(
    tmp_path: Path, env: dict[str, str], setting: str
) -> None:
    done = notifier(tmp_path, "keys", "list", **env)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and setting in line
    assert "short" not in line  # never a setting's value: it may be a secret
