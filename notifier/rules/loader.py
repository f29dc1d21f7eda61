"""Read a folder of rule files into a :class:`RuleSet`, or explain exactly what is wrong.

Operations staff edit these files by hand, so every error names the file, the line and the
column, and says how to fix it. Loading is all-or-nothing: a folder with one bad file yields
no rule set at all, which lets the running engine keep its last good one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from notifier.file_errors import RuleError, RuleSetError
from notifier.rules.schema import Defaults, Rule, RuleFile, event_matches
from notifier.runtime.reloading import Reloading

Position = tuple[int, int]  # 1-based line, column
Loc = tuple[str | int, ...]


MAX_TYPES_KEPT = 512


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str
    files: tuple[str, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    locations: dict[str, tuple[str, int, int]] = field(default_factory=dict, compare=False)
    _by_id: dict[str, Rule] = field(default_factory=dict, compare=False, repr=False)
    _by_type: dict[str, tuple[tuple[Rule, bool], ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        self._by_id.update({rule.id: rule for rule in self.rules})

    def get(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)

    def for_type(self, event_type: str) -> tuple[tuple[Rule, bool], ...]:
        """The rules an event of this type concerns, in order: ``(rule, True)`` for one it
        cancels (``cancel_on``), ``(rule, False)`` for one it may trigger. Worked out once
        per type (a few hundred at most are kept: types are upstream's to choose)."""
        found = self._by_type.get(event_type)
        if found is None:
            found = tuple(
                (rule, cancels)
                for rule in self.rules
                for cancels in (any(event_matches(event_type, p) for p in rule.cancel_on),)
                if cancels or any(event_matches(event_type, p) for p in rule.trigger)
            )
            if len(self._by_type) < MAX_TYPES_KEPT:
                self._by_type[event_type] = found
        return found


def _positions(
    node: yaml.Node, path: Loc, out: dict[Loc, Position], duplicates: list[tuple[Position, str]]
) -> None:
    """Record where each key and list item starts, and refuse duplicate keys.

    PyYAML keeps the last of two identical keys without a word; in a rule file that silently
    drops half a rule, so it is an error here.
    """
    out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                duplicates.append((here, f"key {key!r} appears twice; keep one"))
            seen.add(key)
            out[(*path, key)] = here
            _positions(value_node, (*path, key), out, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _positions(item, (*path, index), out, duplicates)


def _nearest(positions: dict[Loc, Position], loc: Loc) -> Position:
    for end in range(len(loc), -1, -1):
        if loc[:end] in positions:
            return positions[loc[:end]]
    return (1, 1)


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("literal["))


def _without_union_noise(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic reports every branch of a union (``quiet_hours``: a window, or 'off').

    Keep the branch that was meant — the literal when a plain value was given, the model
    when a mapping was — and take the branch names out of the path.
    """
    entries = []
    for error in errors:
        loc = tuple(error["loc"])
        plain = tuple(p for p in loc if not _is_union_tag(p))
        literal = any(isinstance(p, str) and p.startswith("literal[") for p in loc)
        entries.append((plain, literal, {**error, "loc": plain}))
    kept = []
    for plain, literal, error in entries:
        rivals = [e for p, lit, e in entries if e is not error and p[: len(plain)] == plain]
        not_a_mapping = [e for e in rivals if e["type"] in ("model_type", "dict_type")]
        if literal and rivals and len(not_a_mapping) < len(rivals):
            continue  # a mapping was given: the model branch's errors are the useful ones
        if error["type"] in ("model_type", "dict_type") and any(
            lit for p, lit, e in entries if e is not error and p == plain
        ):
            continue  # a plain value was given: the literal branch says what is allowed
        kept.append(error)
    return kept


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"unknown key {error['loc'][-1]!r}; check its spelling against docs/rules.md"
    if error["type"] == "missing":
        return f"{where}: this key is required"
    if error["type"] == "enum":
        return f"{where}: {message} (got {error.get('input')!r})"
    return f"{where}: {message}"


def parse_rule_file(
    name: str, text: str
) -> tuple[RuleFile | None, list[RuleError], dict[Loc, Position]]:
    """Parse one file's text; never raises for bad content, returns the errors instead."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        return None, [RuleError(name, line, column, f"YAML syntax: {problem}")], {}
    if node is None:
        return RuleFile(), [], {}
    positions: dict[Loc, Position] = {}
    duplicates: list[tuple[Position, str]] = []
    _positions(node, (), positions, duplicates)
    errors = [RuleError(name, line, column, message) for (line, column), message in duplicates]
    if not isinstance(data, dict):
        errors.append(RuleError(name, 1, 1, "a rule file is a mapping with a 'rules:' list"))
        return None, errors, positions
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        for err in _without_union_noise(exc.errors()):
            line, column = _nearest(positions, tuple(err["loc"]))
            errors.append(RuleError(name, line, column, _describe(err)))
        return None, errors, positions
    return (None if errors else parsed), errors, positions


def rule_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_rules(folder: Path) -> RuleSet:
    """Load every ``*.yaml``/``*.yml`` under ``folder``; :class:`RuleSetError` if any is bad."""
    if not folder.is_dir():
        raise RuleSetError([RuleError(str(folder), 0, 0, "rules folder not found")])
    return load_rule_texts(
        (str(path), path.read_text(encoding="utf-8")) for path in rule_files(folder)
    )


def load_rule_texts(files: Iterable[tuple[str, str]]) -> RuleSet:
    """Build a rule set from (name, text) pairs: the pure core of :func:`load_rules`."""
    digest = hashlib.sha256()
    rules: list[Rule] = []
    errors: list[RuleError] = []
    first_seen: dict[str, str] = {}
    locations: dict[str, tuple[str, int, int]] = {}
    names = []
    defaults: tuple[str, Defaults] | None = None
    for name, text in files:
        names.append(name)
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        parsed, file_errors, positions = parse_rule_file(name, text)
        errors.extend(file_errors)
        if parsed is None:
            continue
        if parsed.defaults is not None:
            if defaults is not None:
                line, column = _nearest(positions, ("defaults",))
                errors.append(
                    RuleError(
                        name,
                        line,
                        column,
                        f"'defaults' is already set in {defaults[0]}; keep it in one file",
                    )
                )
            else:
                defaults = (name, parsed.defaults)
        for index, rule in enumerate(parsed.rules):
            if rule.id in first_seen:
                line, column = _nearest(positions, ("rules", index, "id"))
                errors.append(
                    RuleError(
                        name,
                        line,
                        column,
                        f"rule id {rule.id!r} is already used in {first_seen[rule.id]}; "
                        "rule ids must be unique",
                    )
                )
            first_seen.setdefault(rule.id, name)
            locations.setdefault(rule.id, (name, *_nearest(positions, ("rules", index))))
            rules.append(rule)
    if errors:
        raise RuleSetError(errors)
    return RuleSet(
        rules=tuple(rules),
        version=digest.hexdigest()[:12],
        files=tuple(names),
        defaults=defaults[1] if defaults else Defaults(),
        locations=locations,
    )


RulesHolder = Reloading[RuleSet]


def rules_holder(folder: Path) -> RulesHolder:
    """The rule files of ``folder``; :class:`RuleSetError` if they cannot be loaded."""
    return Reloading("rules", folder, load_rules, rule_files)
