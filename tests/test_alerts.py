"""The alert rules load and each alert fires when it should: promtool's own checks."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.support.builders import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make test` installs it (Debian package prometheus)"
    return subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True)


def test_rules_are_valid() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_when_it_should() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = set()
    for line in (PROMETHEUS / "alerts.yml").read_text().splitlines():
        if line.strip().startswith("- alert:"):
            alerts.add(line.split(":", 1)[1].strip())
    tests = (PROMETHEUS / "alerts.test.yml").read_text()
    assert all(f"alertname: {name}" in tests for name in alerts), "an alert without a test"


def test_the_dashboard_shows_every_metric() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "notifier.json").read_text())
    queries = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in (
        "notifier_events_total",
        "notifier_delivery_attempts_total",
        "notifier_firing_lateness_seconds_bucket",
        "notifier_provider_call_duration_seconds_bucket",
        "notifier_schedule_messages",
        "notifier_schedule_overdue_messages",
        "notifier_schedule_oldest_overdue_age_seconds",
        "notifier_rate_limit_waits_total",
        "notifier_channel_stopped",
        "notifier_reload_failures_total",
        "notifier_redis_errors_total",
    ):
        assert metric in queries, metric
