"""The guard that makes every parametrised table name its cases (tests/support/case_ids.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import pytest_runtest_setup
from tests.support.case_ids import unnamed_cases

parametrize = pytest.mark.parametrize


@pytest.mark.parametrize(
    ("mark", "unnamed"),
    [
        pytest.param(parametrize("n", [1, 2], ids=["one", "two"]).mark, False, id="ids-given"),
        pytest.param(
            parametrize(("a", "b"), [pytest.param(1, 2, id="small")]).mark, False, id="params-ids"
        ),
        pytest.param(parametrize("lang", ["fr", "en"]).mark, False, id="short-strings"),
        pytest.param(parametrize(["lang"], ["fr"]).mark, False, id="short-strings-name-list"),
        pytest.param(parametrize("n", []).mark, False, id="empty-table"),
        pytest.param(
            parametrize(("a", "b"), [pytest.param(1, 2, id="x"), pytest.param(3, 4)]).mark,
            True,
            id="a-param-without-id",
        ),
        pytest.param(parametrize("n", [1, 2]).mark, True, id="numbers"),
        pytest.param(parametrize("a, b", [("x", "y")]).mark, True, id="tuples-of-strings"),
        pytest.param(parametrize("word", ["été"]).mark, True, id="non-ascii-string"),
        pytest.param(parametrize("word", ["a\tb"]).mark, True, id="control-character"),
        pytest.param(parametrize("text", ["x" * 61]).mark, True, id="long-string"),
        pytest.param(parametrize("text", [""]).mark, True, id="empty-string"),
    ],
)
def test_which_tables_name_their_cases(mark: pytest.Mark, unnamed: bool) -> None:
    assert unnamed_cases(mark) is unnamed


class _Item:
    def __init__(self, *marks: pytest.MarkDecorator) -> None:
        self.marks = [m.mark for m in marks]

    def iter_markers(self, name: str) -> Iterator[pytest.Mark]:
        return (m for m in self.marks if m.name == name)


def test_a_test_from_an_unnamed_table_fails_before_its_fixtures() -> None:
    item = _Item(parametrize("lang", ["fr"]), parametrize(("a", "b"), [(1, 2)]))
    with pytest.raises(pytest.fail.Exception, match=r"parametrize\(\('a', 'b'\)\): name each"):
        pytest_runtest_setup(item)  # type: ignore[arg-type]
    pytest_runtest_setup(_Item(parametrize("lang", ["fr"])))  # type: ignore[arg-type]
