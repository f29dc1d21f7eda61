"""The store's Lua scripts, one ``.lua`` file each under ``lua/``, with ``helpers.lua`` first.

Each file starts with a header naming its KEYS and ARGV and what it returns (as Dramatiq's
``dispatch.lua`` does); tests/test_store_scripts.py holds each to it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import redis
from redis.commands.core import Script

from notifier.models import PENDING_STATUSES
from notifier.store.codec import LAYOUT, PREFIX

LUA = Path(__file__).parent / "lua"
_PENDING = ", ".join(f"['{status}'] = true" for status in PENDING_STATUSES)
DECLARED = (
    f"local prefix, layout = '{PREFIX}', '{LAYOUT}'\n",
    f"local pending = {{{_PENDING}}}\n",
)


@cache
def source(name: str) -> str:
    """The text Redis runs for script ``name``: the shared helpers, then the script."""
    helpers = (LUA / "helpers.lua").read_text()
    for declared in DECLARED:  # the Lua and the Python must name the same keys and statuses
        if declared not in helpers:
            raise RuntimeError(f"{LUA / 'helpers.lua'} must declare: {declared.strip()}")
    return helpers + (LUA / f"{name}.lua").read_text()


def register(client: redis.Redis, *names: str) -> dict[str, Script]:
    """Each script by name, ready to call (by its hash, loaded on first use)."""
    return {name: client.register_script(source(name)) for name in names}
