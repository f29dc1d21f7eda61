"""How deep and how long a free-form value (an event's ``data``) is as JSON, in one walk.

The exact length needs the value written out; an upper bound does not, and settles the
check for all but values near the limit (writing every event's data out was a twentieth of
its time at ingest).
"""

from __future__ import annotations

from typing import Any

UNKNOWN = 1 << 40  # a part whose length the walk does not bound: measure it exactly


def measure(value: Any, limit: int) -> tuple[bool, int]:
    """Whether objects and arrays nest more than ``limit`` levels in ``value``, and a length
    it cannot exceed as JSON (each character of a string escaped at worst, ``\\ud83d\\ude00``
    for one). A loop, not recursion, so any depth the JSON parser accepts is answered."""
    bound = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth == limit:
                return True, bound
            if isinstance(item, dict):
                # "key": …, and {}; a key other than a string (made in code): measured exactly
                bound += 2 + sum(
                    12 * len(key) + 6 if isinstance(key, str) else UNKNOWN for key in item
                )
                stack.extend((child, depth + 1) for child in item.values())
            else:
                bound += 2 + 2 * len(item)  # [] and ", " between items
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            bound += 12 * len(item) + 2
        elif item is None or isinstance(item, bool | float) or _short_int(item):
            bound += 25  # a float's repr, "Infinity", "false", a 20-digit integer
        else:  # a larger integer, or a value made in code: measured exactly
            bound += UNKNOWN
    return False, bound


def _short_int(value: Any) -> bool:
    return isinstance(value, int) and -(10**20) < value < 10**20
