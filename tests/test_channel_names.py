"""A channel's facts live on its plug-in: its name is written in its module and the
``Channel`` enum, nowhere else in the product (lists of channels are built from the registry)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from notifier.channels.registry import plugins
from tests.support.builders import ROOT

NAMES = {str(channel) for channel in plugins()}
OWN = ROOT / "notifier" / "channels"
VENDORED = ROOT / "notifier" / "web" / "static" / "swagger-ui"  # not ours
# "sms", or a key ending in one: "channel.sms", "preferences.unreachable.webpush"
WRITTEN = re.compile(rf"""["'](?:[\w.]*\.)?({"|".join(sorted(NAMES))})["']""")


def _enum_lines() -> range:
    """The lines of ``class Channel`` in models.py: the one place besides the plug-ins."""
    tree = ast.parse((ROOT / "notifier" / "models.py").read_text())
    enum = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Channel")
    return range(enum.lineno, (enum.end_lineno or enum.lineno) + 1)


def _python_literals(path: Path) -> list[tuple[int, str]]:
    """Each string constant of ``path`` that is a channel's name or a key ending in one."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = WRITTEN.fullmatch(repr(node.value))
            if match:
                found.append((node.lineno, node.value))
    return found


def _template_literals(path: Path) -> list[tuple[int, str]]:
    return [
        (number, match.group(0))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in WRITTEN.finditer(line)
    ]


def written_names() -> list[str]:
    enum = _enum_lines()
    found = []
    for folder in ("notifier", "workers"):
        for path in sorted((ROOT / folder).rglob("*")):
            if OWN in path.parents or VENDORED in path.parents or not path.is_file():
                continue
            if path.suffix == ".py":
                hits = _python_literals(path)
                if path == ROOT / "notifier" / "models.py":
                    hits = [(line, text) for line, text in hits if line not in enum]
            elif path.suffix in (".html", ".j2", ".js", ".lua"):
                hits = _template_literals(path)
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{line}: {text}" for line, text in hits]
    return found


def test_no_channel_name_is_written_outside_its_plugin() -> None:
    assert written_names() == []


@pytest.mark.parametrize(
    "source",
    ['"sms"', "'webpush'", '"channel.email"', '"preferences.unreachable.sms"'],
    ids=["name", "single-quoted", "label-key", "nested-key"],
)
def test_the_check_sees_a_written_name(source: str) -> None:
    assert WRITTEN.fullmatch(source)


@pytest.mark.parametrize(
    "source",
    ['"e-mail"', '"smtp_email"', '"email_address"', '"sms.text.j2"'],
    ids=["prose", "prefix", "suffix", "part-file"],
)
def test_the_check_ignores_other_words(source: str) -> None:
    assert not WRITTEN.fullmatch(source)
