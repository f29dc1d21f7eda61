"""The examples in the documentation are real: each YAML block loads as a rule file."""

from __future__ import annotations

import re

import pytest

from notifier.rules.lint import lint
from notifier.rules.loader import load_rule_texts
from tests.support.builders import EXAMPLES, NOW, ROOT

BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
DOCS = {
    name: BLOCK.findall((ROOT / name).read_text(encoding="utf-8"))
    for name in ("docs/rules.md", "README.md")
}
EXAMPLES_IN_DOCS = [
    pytest.param(text, id=f"{name}#{n}")
    for name, blocks in DOCS.items()
    for n, text in enumerate(blocks)
]


def test_docs_have_an_example_per_feature() -> None:
    text = "\n".join(DOCS["docs/rules.md"])
    for construct in (
        "when:",
        "every:",
        "cancel_on:",
        "expires:",
        "quiet_hours:",
        "cap:",
        "grace:",
        "critical:",
        "at: 1 day before",
        "procedure.*",
        "defaults:",
        "max_sms_segments:",
        "replace_pending:",
        "requires:",
    ):
        assert construct in text, construct


@pytest.mark.parametrize("text", EXAMPLES_IN_DOCS)
def test_example_loads_and_uses_shipped_templates(text: str) -> None:
    ruleset = load_rule_texts([("example.yaml", text)])
    problems = [
        str(w) for w in lint(ruleset, EXAMPLES / "templates", NOW) if "template" in w.message
    ]
    assert problems == []
