"""Links in messages: only ``https`` (``http`` to loopback in development), whatever the data.

A value that opens an ``href`` or ``src`` attribute (``<a href="{{ data.account_url }}">``),
and every value of a push's ``url`` part, goes through the ``link`` filter, added when the
template is compiled (:class:`LinkAttributes`, on the token stream): the template's author
need not remember it. ``javascript:``, ``data:``, ``vbscript:`` and any other scheme, or an
address with spaces or a user name, make the render fail (:class:`UnsafeLinkError`, a
``ValueError``: the message is not sent with it). The API refuses such a value at the door
too, for the ``data.…`` fields the templates write as links (:func:`link_fields`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import meta, nodes
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

from notifier.templates.fields import data_path
from notifier.urls import link_problem

FILTER = "link"
# Template text just before an expression that starts an attribute's URL value
OPENS_LINK = re.compile(r"""\b(?:href|src|action|formaction)\s*=\s*["']?\s*$""", re.IGNORECASE)
URL_PART = ".url.j2"  # a push's url: the whole text is a link


class UnsafeLinkError(ValueError):
    """A link a message would carry is not https (or http to loopback)."""


def link(value: Any) -> Any:
    """The ``link`` filter: ``value`` unchanged if it may be a link in a message."""
    problem = link_problem(value)
    if problem is not None:
        raise UnsafeLinkError(f"a link in this message {problem}; it is not sent with it")
    return value


def check_url_part(text: str) -> str:
    """A rendered ``url`` part (a push's): the same rule, for text written in the template."""
    return str(link(text))


class LinkAttributes(Extension):
    """Wraps ``{{ expr }}`` as ``{{ (expr) | link }}`` where it starts a link."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        whole = (stream.name or "").endswith(URL_PART)
        before = ""  # the template text just before the current token
        wrapping = False
        for token in stream:
            if token.type == "variable_begin" and (whole or OPENS_LINK.search(before)):
                yield token
                yield Token(token.lineno, "lparen", "(")
                wrapping = True
                continue
            if token.type == "variable_end":
                before = ""
                if wrapping:
                    yield Token(token.lineno, "rparen", ")")
                    yield Token(token.lineno, "pipe", "|")
                    yield Token(token.lineno, "name", FILTER)
                    wrapping = False
            elif token.type == "data":
                before = token.value
            yield token


def link_fields(tree: nodes.Template, resolve: Callable[[str], nodes.Template | None]) -> set[str]:
    """The ``data.…`` paths ``tree`` and the pieces it refers to write as links."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = [tree]
    while pending:
        current = pending.pop()
        for wrapped in current.find_all(nodes.Filter):
            if wrapped.name == FILTER and wrapped.node is not None:
                found.update(_paths(wrapped.node))
        for name in meta.find_referenced_templates(current):
            if name is not None and name not in seen:
                seen.add(name)
                referenced = resolve(name)
                if referenced is not None:
                    pending.append(referenced)
    return found


def _paths(node: nodes.Node) -> Iterator[str]:
    """The whole ``data.…`` paths ``node`` may give as its value (``data.a.b``, not also
    ``data.a``; not a condition's test)."""
    path = data_path(node)
    if path is not None:
        yield path
        return
    children: list[nodes.Node]
    if isinstance(node, nodes.CondExpr):
        children = [c for c in (node.expr1, node.expr2) if c is not None]
    else:
        children = [c for c in node.iter_child_nodes() if not isinstance(c, nodes.Test)]
    for child in children:
        yield from _paths(child)
