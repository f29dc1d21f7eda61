"""Which event data fields a template cannot render without, read from its syntax tree.

Templates run with ``StrictUndefined``: reading ``data.starts_at`` from an event that lacks
it fails the send. So every ``data.…`` a template reads is required, unless the read is
guarded — under ``default(…)``, tested with ``is defined`` / ``is undefined``, or inside an
``{% if data.x is defined %}`` block (or the true branch of ``… if data.x is defined``).
Pieces it extends, includes or imports are read too. The API refuses at ingest an event
that lacks a field a planned message needs, instead of a failure at send time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from jinja2 import meta, nodes

GUARD_FILTERS = frozenset({"default", "d"})
GUARD_TESTS = frozenset({"defined", "undefined"})


def data_path(node: nodes.Node) -> str | None:
    """``data.unit.code`` (or ``data["unit"]``) as a dotted path; None for anything else."""
    names: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            names.append(node.attr)
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            names.append(node.arg.value)
            node = node.node
        else:
            break
    if isinstance(node, nodes.Name) and node.name == "data" and names:
        return ".".join(["data", *reversed(names)])
    return None


def _guards(test: nodes.Node) -> set[str]:
    """Paths that ``test`` checks with ``is defined`` (anywhere in it: ``a and b`` too)."""
    found = set()
    for candidate in [test, *test.find_all(nodes.Test)]:
        if isinstance(candidate, nodes.Test) and candidate.name in GUARD_TESTS:
            path = data_path(candidate.node)
            if path is not None:
                found.add(path)
    return found


def _covered(path: str, guarded: frozenset[str]) -> bool:
    return any(path == g or path.startswith(g + ".") for g in guarded)


def _reads(node: nodes.Node, guarded: frozenset[str]) -> Iterator[str]:
    if isinstance(node, nodes.Test) and node.name in GUARD_TESTS:
        return
    if isinstance(node, nodes.Filter) and node.name in GUARD_FILTERS:
        for child in [*node.args, *node.kwargs]:
            yield from _reads(child, guarded)
        return
    if isinstance(node, nodes.If | nodes.CondExpr):
        test = node.test
        assert test is not None
        inside = guarded | _guards(test)
        yield from _reads(test, inside)
        if isinstance(node, nodes.If):
            for child in node.body:
                yield from _reads(child, inside)
            for child in [*node.elif_, *node.else_]:
                yield from _reads(child, guarded)
        else:
            yield from _reads(node.expr1, inside)
            if node.expr2 is not None:
                yield from _reads(node.expr2, guarded)
        return
    path = data_path(node)
    if path is not None:
        if not _covered(path, guarded):
            yield path
        return
    for child in node.iter_child_nodes():
        yield from _reads(child, guarded)


def required_fields(
    tree: nodes.Template, resolve: Callable[[str], nodes.Template | None]
) -> set[str]:
    """The ``data.…`` paths ``tree`` and the pieces it refers to read unguarded.

    ``resolve`` gives the parsed tree of a referenced template name (None if unknown).
    """
    found: set[str] = set()
    seen: set[str] = set()
    pending = [tree]
    while pending:
        current = pending.pop()
        found.update(_reads(current, frozenset()))
        for name in meta.find_referenced_templates(current):
            if name is not None and name not in seen:
                seen.add(name)
                referenced = resolve(name)
                if referenced is not None:
                    pending.append(referenced)
    return found
