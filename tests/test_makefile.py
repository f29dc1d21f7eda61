"""The README's two commands: `make run`'s demo values reach `notifier run` and nothing else.

A demo value exported to every target reached `make test` too: the demo key's scopes
(`NOTIFIER_API_KEY_SCOPES`, naming the key `demo`) made every engine process the tests start
with their own keys refuse to start, on a clean clone only (a bare `pytest` never saw them).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.builders import ROOT

DEMO = ("NOTIFIER_API_KEYS", "NOTIFIER_API_KEY_SCOPES", "NOTIFIER_RULES_DIR")


def environment(tmp_path: Path, *arguments: str) -> str:
    """What the recipe's ``notifier`` (a script printing its environment) was given."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "notifier").write_text("#!/bin/sh\nenv\n")
    (fake / "notifier").chmod(0o755)
    (tmp_path / "stamp").touch()
    probe = tmp_path / "probe.mk"
    probe.write_text("probe:\n\t@env\n")
    command = ["make", "-s", "-f", "Makefile", "-f", str(probe), *arguments]
    overrides = [f"BIN={fake}", f"STAMP={tmp_path / 'stamp'}"]
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no NOTIFIER_ of the caller's
    result = subprocess.run(
        [*command, *overrides], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_the_demo_values_are_for_make_run_only(tmp_path: Path) -> None:
    ran = environment(tmp_path, "run")
    assert all(f"{name}=" in ran for name in DEMO), ran
    other = environment(tmp_path, "probe")  # any other target: test, bench…
    assert not [name for name in DEMO if f"{name}=" in other], other
