"""An event's data measured in one walk (notifier.json_size): how deep it nests, and a length
it cannot exceed as JSON, so that the exact length is written out only near the limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.json_size import measure

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


def depth(value: Any) -> int:
    """How many levels of objects and arrays nest in ``value`` (0 for a scalar)."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(json_values)
def test_the_bound_is_never_under_the_length(value: Any) -> None:
    too_deep, bound = measure(value, 100)
    assert not too_deep
    assert bound >= len(json.dumps(value, default=str))


@given(json_values, st.integers(min_value=0, max_value=4))
def test_too_deep_exactly_when_nested_past_the_limit(value: Any, limit: int) -> None:
    assert measure(value, limit)[0] is (depth(value) > limit)


@pytest.mark.parametrize(
    "value",
    [
        "😀" * 100,
        '\x00\x1f\n\t"\\',
        "é" * 50,
        10**19,
        -(10**19),
        10**30,
        -1.7976931348623157e308,
        float("-inf"),
        {"😀": ["😀", {"": None}]},
        [[], {}, [[]]],
        {1: "a", None: 2},
    ],
    ids=[
        "astral",
        "escaped",
        "accents",
        "large-int",
        "negative-int",
        "huge-int",
        "longest-float",
        "infinity",
        "nested",
        "empty-containers",
        "keys-made-in-code",
    ],
)
def test_values_hardest_to_bound(value: Any) -> None:
    assert measure(value, 8)[1] >= len(json.dumps(value, default=str))
