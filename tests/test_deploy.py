"""deploy/: what can be checked without running containers or systemd is checked here."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from notifier.cli import build_parser
from notifier.runtime.settings import Settings
from tests.support.builders import ROOT

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def commands() -> set[str]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if a.dest == "command")
    return set(sub.choices)  # type: ignore[arg-type]


def test_every_notifier_setting_used_in_deploy_exists() -> None:
    used = {
        name
        for path in DEPLOY.rglob("*")
        if path.is_file() and path.suffix != ".json"
        for name in re.findall(r"\bNOTIFIER_([A-Z0-9_]+)", path.read_text())
    }
    assert used, "deploy/ sets no NOTIFIER_* at all?"
    assert sorted(n for n in used if n.lower() not in Settings.model_fields) == []


def test_compose_runs_the_production_topology_with_existing_commands() -> None:
    services = compose()["services"]
    image = [s for s in services.values() if s.get("image") == "notifier:latest"]
    assert {tuple(s["command"]) for s in image} == {("api",), ("scheduler",), ("worker",)}
    assert {s["command"][0] for s in image} <= commands()
    assert sum(s["command"] == ["scheduler"] for s in image) == 2
    sentinels = [s for s in services.values() if "--sentinel" in str(s.get("command"))]
    assert len(sentinels) == 3
    replicas = [s for s in services.values() if "--replicaof" in s.get("command", [])]
    assert len(replicas) == 2
    for service in image:
        environment = service["environment"]
        assert environment["NOTIFIER_REDIS_SENTINELS"].count(":26379") == 3
        assert "NOTIFIER_REDIS_URL" not in environment


def test_prometheus_in_compose_scrapes_every_notifier_process() -> None:
    services = compose()["services"]
    scraped = yaml.safe_load((DEPLOY / "prometheus" / "compose.yml").read_text())
    names = {
        n for job in scraped["scrape_configs"] for sd in job["dns_sd_configs"] for n in sd["names"]
    }
    notifier = {name for name, s in services.items() if s.get("image") == "notifier:latest"}
    assert names == notifier


def test_the_image_is_multi_stage_non_root_and_its_command_chooses_the_process() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER notifier$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["notifier"\]$', text, re.M)


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_units_stop_the_main_process_first(unit: Path) -> None:
    text = unit.read_text()
    assert "KillMode=mixed" in text.splitlines()
    (start,) = re.findall(r"^ExecStart=/opt/notifier/bin/notifier (\w+)$", text, re.M)
    assert start in commands()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """With ExecStart pointing at this checkout's notifier (verify wants it to exist)."""
    here = str(Path(sys.executable).parent / "notifier")
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/notifier/bin/notifier", here))
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
