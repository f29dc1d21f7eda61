"""Hot reload: a valid change is applied atomically, an invalid one refused, old rules kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from notifier.rules.loader import RuleSetError, rules_holder
from tests.support.builders import make_event
from tests.support.harness import EngineProcesses, wait_for

RULE = "rules:\n  - {{id: {id}, trigger: [x.y], template: t, channels: [sms]}}\n"


def write(path: Path, text: str) -> None:
    """Write and make sure the modification time moves, even on coarse-clock file systems."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def planned(engine: EngineProcesses, event_id: str) -> list[str]:
    """The rules that planned a procedure's news posted to the engine's API."""
    data = {"reference": "R-1", "status_label": "transmise"}
    event = make_event(id=event_id, type="procedure.status_changed", data=data)
    response = engine.post(event.model_dump(mode="json"))
    assert response.status_code == 202, response.text
    return [p["rule"] for p in response.json()["planned"]]


def test_holder_applies_valid_and_refuses_invalid_changes(tmp_path: Path) -> None:
    write(tmp_path / "r.yaml", RULE.format(id="first"))
    holder = rules_holder(tmp_path)
    assert holder.reload_if_changed() is None
    write(tmp_path / "r.yaml", RULE.format(id="second"))
    assert holder.reload_if_changed() is True
    assert [r.id for r in holder.current.rules] == ["second"]
    good_version = holder.current.version
    write(tmp_path / "r.yaml", "rules:\n  - id: broken\n")
    assert holder.reload_if_changed() is False
    assert holder.current.version == good_version
    assert holder.last_error is not None
    assert str(holder.last_error).startswith(f"{tmp_path / 'r.yaml'}:2:5:")
    write(tmp_path / "r.yaml", RULE.format(id="third"))
    assert holder.reload_if_changed() is True and holder.last_error is None


def test_engine_refuses_to_start_on_invalid_rules(tmp_path: Path) -> None:
    write(tmp_path / "r.yaml", "rules: [\n")
    with pytest.raises(RuleSetError):
        rules_holder(tmp_path)


RULES = """
rules:
  - id: notice-v1
    trigger: [procedure.status_changed]
    template: procedure_status
    channels: [sms]
    quiet_hours: "off"
"""


def test_running_engine_applies_then_refuses_a_rule_change(
    redis_base_url: str, tmp_path: Path
) -> None:
    engine = EngineProcesses(tmp_path, redis_base_url, rules=RULES, engine_db=4)
    engine.env["NOTIFIER_RULES_RELOAD_SECONDS"] = "0.2"
    rules_file = engine.rules_dir / "rules.yaml"
    try:
        engine.start_api()
        assert planned(engine, "e1") == ["notice-v1"]
        write(rules_file, RULES.replace("notice-v1", "notice-v2"))
        wait_for(
            lambda: engine.http.get("/v1/rules").json()["rules"][0]["id"] == "notice-v2",
            10,
            "the valid change to be applied",
        )
        assert planned(engine, "e2") == ["notice-v2"]
        version = engine.http.get("/v1/rules").json()["version"]
        write(rules_file, RULES.replace("channels: [sms]", "channels: [fax]"))
        health = wait_for(
            lambda: engine.http.get("/healthz").json().get("rules_reload_error"),
            10,
            "the invalid change to be refused",
        )
        assert f"{rules_file}:6:" in health and "channels" in health
        assert engine.http.get("/v1/rules").json()["version"] == version
        assert planned(engine, "e3") == ["notice-v2"]
        assert "rules reload refused" in (tmp_path / "api.log").read_text()
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()


def test_running_engine_refuses_rules_and_templates_that_do_not_go_together(
    redis_base_url: str, tmp_path: Path
) -> None:
    """A rule naming a template that does not exist, and a template deleted while a rule in
    force names it: both refused, with the rule's file:line, the last good pair kept; the
    worker too keeps the template, and sends with it."""
    import shutil

    from tests.support.builders import EXAMPLES

    engine = EngineProcesses(tmp_path, redis_base_url, rules=RULES, engine_db=4)
    templates = tmp_path / "templates"
    shutil.copytree(EXAMPLES / "templates", templates)
    engine.env["NOTIFIER_TEMPLATES_DIR"] = str(templates)
    engine.env["NOTIFIER_RULES_RELOAD_SECONDS"] = "0.2"
    rules_file = engine.rules_dir / "rules.yaml"
    try:
        engine.start_api()
        engine.start_scheduler()
        engine.start_worker()
        rules_version = engine.http.get("/v1/rules").json()["version"]
        write(rules_file, RULES.replace("template: procedure_status", "template: procedure_statut"))
        refused = wait_for(
            lambda: engine.http.get("/healthz").json().get("rules_reload_error"),
            10,
            "the rule naming a missing template to be refused",
        )
        assert f"{rules_file}:3:5: error: notice-v1: no template 'procedure_statut'" in refused
        answer = engine.http.get("/v1/rules").json()
        assert answer["version"] == rules_version and answer["reload_error"] == refused
        assert planned(engine, "e1") == ["notice-v1"]
        wait_for(lambda: list(engine.outbox.glob("*-sms.json")), 20, "the first notice sent")

        write(rules_file, RULES)  # good again: clears the error
        wait_for(
            lambda: engine.http.get("/healthz").json().get("rules_reload_error") is None,
            10,
            "the good rules to be accepted again",
        )
        templates_version = engine.http.get("/v1/rules").json()["templates_version"]
        (templates / "procedure_status" / "fr" / "sms.text.j2").unlink()
        shutil.rmtree(templates / "procedure_status" / "fr" / "easy")
        refused = wait_for(
            lambda: engine.http.get("/healthz").json().get("templates_reload_error"),
            10,
            "the deletion of a template a rule names to be refused",
        )
        assert (
            f"{rules_file}:3:5: error: notice-v1: template 'procedure_status' has no "
            "sms.text.j2 in French (fr)" in refused
        )
        answer = engine.http.get("/v1/rules").json()
        assert answer["templates_version"] == templates_version
        assert answer["templates_reload_error"] == refused
        assert planned(engine, "e2") == ["notice-v1"]
        time.sleep(0.5)  # past the worker's reload interval: it has seen the deletion
        assert planned(engine, "e3") == ["notice-v1"]
        sent = wait_for(
            lambda: len(list(engine.outbox.glob("*-sms.json"))) == 3 or None,
            20,
            "every notice sent by SMS, the last two with the template kept in force",
        )
        assert sent
    except AssertionError:
        print(engine.logs())
        raise
    finally:
        engine.stop_all()


def test_a_worker_paired_on_wrong_rules_still_takes_other_template_changes(
    tmp_path: Path,
) -> None:
    """A worker may first read the folders while the API refuses them: a templates change
    is then refused only for what it breaks itself."""
    from notifier.rules.pairing import pair
    from notifier.templates.renderer import templates_holder

    templates = tmp_path / "templates"
    for name in ("kept", "other"):
        (templates / name / "fr").mkdir(parents=True)
        write(templates / name / "fr" / "sms.text.j2", "v1")
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    two = "rules:\n  - {id: a, trigger: [x.y], template: kept, channels: [sms]}\n"
    two += "  - {id: b, trigger: [x.z], template: missing, channels: [sms]}\n"
    write(rules_dir / "r.yaml", two)
    rules, held = rules_holder(rules_dir), templates_holder(templates)
    pair(rules, held, now=False)
    write(templates / "other" / "fr" / "sms.text.j2", "v2")
    assert held.reload_if_changed() is True  # not held back by rule b
    (templates / "kept" / "fr" / "sms.text.j2").unlink()
    assert held.reload_if_changed() is False  # rule a still names it
    assert "a: no template 'kept'" in str(held.last_error)
    assert "'missing'" not in str(held.last_error)
