"""Templates keep the last good version, as rules do: a broken edit never reaches a send."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from notifier.models import Channel
from notifier.rules.loader import RuleSetError
from notifier.store import Store
from notifier.templates.catalog import load_templates
from notifier.templates.renderer import Renderer, templates_holder
from tests.support.builders import api_client

CONTEXT = {"locale": "fr", "timezone": "Europe/Paris", "data": {"n": "1"}, "needs": {}}


def write(folder: Path, relative: str, text: str) -> Path:
    """Write and make sure the modification time moves, even on coarse-clock file systems."""
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    return path


def test_a_broken_edit_is_refused_and_sends_keep_the_last_good_text(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/sms.text.j2", "Version 1, dossier {{ data.n }}")
    renderer = Renderer(tmp_path, reload_seconds=1e-9)
    assert renderer.render("t", Channel.SMS, "fr", CONTEXT) == {"text": "Version 1, dossier 1"}
    broken = write(tmp_path, "t/fr/sms.text.j2", "Version 2\n{{ data.n ")
    assert renderer.render("t", Channel.SMS, "fr", CONTEXT) == {"text": "Version 1, dossier 1"}
    assert renderer.last_error is not None
    assert str(renderer.last_error).startswith(f"{broken}:2:")
    write(tmp_path, "t/fr/sms.text.j2", "Version 3, dossier {{ data.n }}")
    assert renderer.render("t", Channel.SMS, "fr", CONTEXT) == {"text": "Version 3, dossier 1"}
    assert renderer.last_error is None


def test_unchanged_files_are_compiled_once_per_process(tmp_path: Path) -> None:
    """Renderers, the API and reloads of one process share a compiled set while the files
    are the same; an edit, even one undone later, is compiled and checked again."""
    write(tmp_path, "t/fr/sms.text.j2", "Version 1")
    first = load_templates(tmp_path)
    assert load_templates(tmp_path) is first
    write(tmp_path, "t/fr/sms.text.j2", "Version 2 {{ data.n ")
    with pytest.raises(RuleSetError):
        load_templates(tmp_path)
    write(tmp_path, "t/fr/sms.text.j2", "Version 2")
    second = load_templates(tmp_path)
    assert second is not first and second.version != first.version
    (tmp_path / "t/fr/sms.text.j2").write_bytes(b"\xff")
    with pytest.raises(RuleSetError, match="not UTF-8"):
        load_templates(tmp_path)


def test_a_removed_part_is_refused_too(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/email.subject.j2", "Objet")
    write(tmp_path, "t/fr/email.text.j2", "Texte")
    renderer = Renderer(tmp_path, reload_seconds=1e-9)
    (tmp_path / "t/fr/email.text.j2").unlink()
    assert renderer.render("t", Channel.EMAIL, "fr", CONTEXT)["text"] == "Texte"
    assert "email.subject.j2 without email.text.j2" in str(renderer.last_error)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        pytest.param({"t/fr/sms.text.j2": "{% if x %}"}, "t/fr/sms.text.j2:1:", id="syntax"),
        pytest.param(
            {"t/fr/sms.text.j2": "ok\n{{ data.n | nosuchfilter }}"},
            "t/fr/sms.text.j2:2:",
            id="unknown filter",
        ),
        pytest.param(
            {"t/fr/sms.text.j2": 'a\nb\n{% import "_partials/gone.j2" as g %}'},
            "t/fr/sms.text.j2:3:1: error: refers to '_partials/gone.j2'",
            id="missing piece",
        ),
        pytest.param({"t/fr/sms.txt.j2": "x"}, "sms has no part 'txt'", id="unknown part"),
        pytest.param({"t/fr/fax.text.j2": "x"}, "unknown channel in 'fax.text.j2'", id="channel"),
        pytest.param({"t/french/sms.text.j2": "x"}, "'french' is not a locale", id="locale"),
        pytest.param({"t/sms.text.j2": "x"}, "not a template part", id="misplaced"),
        pytest.param(
            {"t/en/webpush.title.j2": "x"},
            "webpush.title.j2 without webpush.body.j2",
            id="incomplete channel",
        ),
    ],
)
def test_what_a_templates_folder_is_refused_for(
    tmp_path: Path, files: dict[str, str], error: str
) -> None:
    for relative, text in files.items():
        write(tmp_path, relative, text)
    with pytest.raises(RuleSetError) as caught:
        load_templates(tmp_path)
    assert error in str(caught.value)


def test_an_easy_variant_may_take_parts_from_its_standard_text(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/email.subject.j2", "Objet")
    write(tmp_path, "t/fr/email.text.j2", "Texte")
    write(tmp_path, "t/fr/easy/email.text.j2", "Texte facile")
    parts = Renderer(tmp_path).render("t", Channel.EMAIL, "fr", CONTEXT, easy_read=True)
    assert parts["subject"] == "Objet" and parts["text"] == "Texte facile"


def test_the_api_says_why_a_template_change_was_refused(store: Store, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    write(templates, "procedure_status/fr/sms.text.j2", "{{ data.reference }}")
    holder = templates_holder(templates)
    good = holder.current.version
    rules = "rules:\n  - {id: news, trigger: [x.y], template: procedure_status, channels: [sms]}\n"
    with api_client(
        store, rules, tmp_path / "rules", {"crm": "a-long-key"}, templates=holder
    ) as client:
        broken = write(templates, "procedure_status/fr/sms.text.j2", "{{ data.reference ")
        assert holder.reload_if_changed() is False
        health = client.get("/healthz").json()
        assert health["templates_version"] == good
        assert health["templates_reload_error"].startswith(f"{broken}:1:")
        rules = client.get("/v1/rules", headers={"Authorization": "Bearer a-long-key"}).json()
        assert rules["templates_version"] == good
        assert rules["templates_reload_error"] == health["templates_reload_error"]


def test_the_engine_refuses_to_start_on_broken_templates(tmp_path: Path) -> None:
    write(tmp_path, "t/fr/sms.text.j2", "{% endif %}")
    with pytest.raises(RuleSetError):
        templates_holder(tmp_path)  # what the API and every worker build at start-up
