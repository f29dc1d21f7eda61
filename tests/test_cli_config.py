"""The command line beside a running `make run`, and configuration mistakes in one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from notifier.runtime.redis_server import embedded_server, free_port
from tests.support.builders import ROOT


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
        ({"NOTIFIER_API_KEYS": '{"demo": short'}, "NOTIFIER_API_KEYS"),
    ],
    ids=[
        "not-a-number",
        "too-short-secret",
        "nobody-listens",
        "channel-setting-not-a-choice",
        "channel-setting-refused-by-its-check",
        "not-json",
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


BOOKED = "examples/events/appointment-booked.json"
TEMPLATE = ["templates", "preview", "appointment_reminder", "--data"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["rules", "preview", "--event", "missing.json"], "missing.json: No such file"),
        (["rules", "check", "--events", "missing"], "missing: No such file"),
        ([*TEMPLATE, "missing.json"], "missing.json: No such file"),
        (["rules", "preview", "--event", "partial.json"], "partial.json: type: Field required"),
        (["rules", "check", "--events", "partial.json"], "partial.json: type: Field required"),
        (["rules", "preview", "--event", "broken.json"], "broken.json: Invalid JSON"),
        ([*TEMPLATE, "broken.json"], "broken.json: Invalid JSON"),
        (["rules", "preview", "--event", BOOKED, "--now", "tomorrow"], "--now"),
        (["rules", "preview", "--event", BOOKED, "--now", "2026-12-01T09:00"], "UTC offset"),
    ],
    ids=[
        "preview-event-missing",
        "check-events-missing",
        "template-data-missing",
        "preview-event-not-an-event",
        "check-events-not-an-event",
        "preview-event-not-json",
        "template-data-not-json",
        "now-not-a-time",
        "now-without-offset",
    ],
)
def test_a_file_or_time_given_to_a_command_is_told_in_one_line(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """A file named on the command line that cannot be read, or is not what it should be, and
    a time that is not one: one line naming the file (and the field), never a traceback, nor
    an event's field told as a setting (NOTIFIER_TYPE)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "partial.json").write_text('{"id": "x"}')
    (tmp_path / "broken.json").write_text("{")
    done = notifier(tmp_path, *args)
    assert done.returncode == 2, done.stdout
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert "Traceback" not in done.stderr and "NOTIFIER_" not in done.stderr, done.stderr
    assert said in line, done.stderr


@pytest.mark.parametrize(
    "setting",
    [
        "NOTIFIER_API_PORT",
        "NOTIFIER_EMBEDDED_REDIS_PORT",
        "NOTIFIER_SCHEDULER_METRICS_PORT",
        "NOTIFIER_WORKER_METRICS_PORT",
    ],
    ids=["api", "embedded-valkey", "scheduler-metrics", "worker-metrics"],
)
def test_notifier_run_on_a_port_in_use_says_which_setting_to_change(
    tmp_path: Path, setting: str
) -> None:
    """A second `make run`, or anything else on port 8000: one line naming the port and its
    setting, and nothing started (the API's bind error was lost among the other processes'
    lines, the embedded server's came as its log)."""
    ports = {
        name: str(free_port())
        for name in (
            "NOTIFIER_API_PORT",
            "NOTIFIER_EMBEDDED_REDIS_PORT",
            "NOTIFIER_SCHEDULER_METRICS_PORT",
            "NOTIFIER_WORKER_METRICS_PORT",
        )
    }
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # make run's rules and templates
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(ports[setting])))
        taken.listen()
        done = notifier(tmp_path, "run", NOTIFIER_API_KEYS='{"demo": "demo-secret"}', **ports)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: port {ports[setting]} ({setting}) is in use"), line
    assert "notifier is starting" not in done.stdout
    assert not (tmp_path / "var" / "valkey").exists()  # nothing started


@pytest.mark.parametrize(
    ("command", "setting"),
    [
        ("api", "NOTIFIER_API_PORT"),
        ("scheduler", "NOTIFIER_SCHEDULER_METRICS_PORT"),
        ("worker", "NOTIFIER_WORKER_METRICS_PORT"),
    ],
    ids=["api", "scheduler", "worker"],
)
def test_a_part_on_a_port_in_use_says_which_setting_to_change(
    tmp_path: Path, redis_url: str, command: str, setting: str
) -> None:
    """Each part run alone: the scheduler printed a traceback, the worker one too and went
    on without its metrics, the API uvicorn's line naming no setting."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = notifier(
            tmp_path,
            command,
            NOTIFIER_REDIS_URL=redis_url,
            NOTIFIER_API_KEYS='{"demo": "demo-secret"}',
            **{setting: port},
        )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: port {port} ({setting}) is in use"), line
