"""Every parametrised table names its cases: the guard that tests/conftest.py applies.

A table passes when it gives ``ids=`` or when each of its cases is a
``pytest.param(..., id="...")``. One exception, because pytest's own ids are then the cases
themselves: a table of one argument whose values are all short plain strings
(``"fr"``, ``"06 12"``): printable ASCII, at most :data:`READABLE` characters. Anything
else (numbers, tuples, enums, bytes, long or non-ASCII strings) gets ids such as
``status3`` or ``\\xe9t\\xe9``, which say nothing when a case fails.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from _pytest.mark.structures import ParameterSet

READABLE = 60


def _readable(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= READABLE
        and value.isascii()
        and value.isprintable()
    )


def unnamed_cases(mark: pytest.Mark) -> bool:
    """Whether the ``parametrize`` mark has cases that only pytest's generated ids name."""
    if mark.kwargs.get("ids") is not None or len(mark.args) > 3:
        return False
    names = mark.args[0] if mark.args else mark.kwargs["argnames"]
    values: Iterable[object] = mark.args[1] if len(mark.args) > 1 else mark.kwargs["argvalues"]
    single = (isinstance(names, str) and "," not in names) or len(names) == 1
    for value in values:
        if isinstance(value, ParameterSet):
            if value.id is None:
                return True
        elif not (single and _readable(value)):
            return True
    return False


def unnamed_tables(marks: Iterable[pytest.Mark]) -> list[str]:
    """The argument names of each table among ``marks`` whose cases are not all named."""
    return [
        str(mark.args[0] if mark.args else mark.kwargs["argnames"])
        for mark in marks
        if mark.name == "parametrize" and unnamed_cases(mark)
    ]
