"""The README's "Try it", run as written against `notifier run` started as `make run` does."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from notifier.runtime.redis_server import free_port
from tests.support.builders import ROOT
from tests.support.harness import start_notifier_run, wait_for


def try_it_commands() -> list[str]:
    """The curl commands of the README's "Try it" block, continuation lines joined."""
    section = (ROOT / "README.md").read_text().split("## Try it", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", block)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]


def test_the_readme_says_where_the_notifier_command_is_before_using_it() -> None:
    """`make run` installs `notifier` in .venv, not on the PATH: a reader typing the README's
    first `notifier keys add` in a new terminal got "command not found"."""
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"^(?:NOTIFIER_\S+ )*notifier ", readme, re.M)
    assert first is not None
    assert ". .venv/bin/activate" in readme[: first.start()]


def makefile_env() -> dict[str, str]:
    """The demo settings the Makefile exports for `make run`."""
    found = re.findall(
        r"^(?:run: )?export (NOTIFIER_\w+) \?= (.*)$", (ROOT / "Makefile").read_text(), re.M
    )
    return dict(found)


def examples_ahead(into: Path) -> None:
    """The examples, for the README's relative paths, each appointment moved on by whole
    weeks to a week from now or later: the README's dates pass, and its reminders 48 h and
    2 h before must still lie ahead for the cancellation to find them."""
    shutil.copytree(ROOT / "examples", into)
    soon = datetime.now(UTC) + timedelta(days=7)
    for file in (into / "events").glob("*.json"):
        event = json.loads(file.read_text())
        if "starts_at" in event.get("data", {}):
            starts = datetime.fromisoformat(event["data"]["starts_at"])
            weeks = max(0, -((starts - soon) // timedelta(weeks=1)))
            event["data"]["starts_at"] = (starts + timedelta(weeks=weeks)).isoformat()
            file.write_text(json.dumps(event))


def test_the_readme_try_it_runs_as_written(tmp_path: Path) -> None:
    api_port = free_port()
    examples_ahead(tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    # The example rules, but without quiet hours: the README's "a confirmation now" holds by
    # day, and at night waits for 08:00 (the README says so); the test runs at any hour.
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "examples" / "rules", rules)
    procedures = rules / "procedures.yaml"
    procedures.write_text(
        procedures.read_text().replace("defaults:\n", 'defaults:\n  quiet_hours: "off"\n', 1)
    )
    env |= makefile_env() | {
        "NOTIFIER_RULES_DIR": str(rules),
        "NOTIFIER_API_PORT": str(api_port),
        "NOTIFIER_EMBEDDED_REDIS_PORT": str(free_port()),
        "NOTIFIER_SCHEDULER_METRICS_PORT": str(free_port()),
        "NOTIFIER_WORKER_METRICS_PORT": str(free_port()),
    }
    commands = [
        c.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{api_port}")
        for c in try_it_commands()
    ]
    assert len(commands) == 4, commands  # book, book by e-mail, read a message, cancel

    def run(command: str) -> dict:
        done = subprocess.run(
            shlex.split(command), cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def outbox(channel: str) -> list[dict]:
        files = sorted((tmp_path / "var" / "outbox").glob(f"*-{channel}.json"))
        return [json.loads(f.read_text()) for f in files]

    log = tmp_path / "run.log"
    process = start_notifier_run(tmp_path, env, 40)
    try:
        banner = log.read_text()
        assert f"citizen    http://127.0.0.1:{api_port}/" in banner  # the demo's own port
        booked = run(commands[0])
        confirmation = next(p for p in booked["planned"] if p["rule"] == "appointment-confirmation")
        assert confirmation["due_at"].endswith("Z")
        (sms,) = wait_for(lambda: outbox("sms"), 30, "the confirmation in the outbox")
        assert sms["rule"] == "appointment-confirmation" and "confirmé" in sms["content"]["text"]

        run(commands[1])
        (email,) = wait_for(lambda: outbox("email"), 30, "the confirmation by e-mail")
        assert email["rule"] == "appointment-confirmation"
        assert email["to"].endswith("@example.org")
        link = re.search(r"http://\S+", email["content"]["text"])
        assert link is not None and link[0].startswith(f"http://127.0.0.1:{api_port}/")
        page = httpx.get(link[0], follow_redirects=True)
        assert page.status_code == 200 and "notifications" in page.text.lower()

        message = run(commands[2].replace("<id>", confirmation["id"]))
        assert message["status"] == "sent" and message["attempts"] == 1
        assert message["due_at"].endswith("Z")
        assert all(entry["at"].endswith("Z") for entry in message["history"])

        cancelled = run(commands[3])
        assert len(cancelled["cancelled"]) == 2  # the reminders 48 h and 2 h before
        wait_for(lambda: len(outbox("sms")) == 2, 30, "the cancellation notice")
        assert outbox("sms")[1]["rule"] == "appointment-cancelled"
    except AssertionError:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(45)
