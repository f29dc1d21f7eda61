"""``notifier`` command line: run the engine, or one of its parts, and check rule files."""

# One module per group of commands, each adding its parsers (``register``) with the function
# that runs them (``handler``).

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from notifier.cli import keys, rules, run, serve, templates
from notifier.cli.inputs import InputError
from notifier.runtime.settings import get_settings

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (run, serve, rules, keys, templates):
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from notifier.config_errors import CONFIG_ERRORS, describe

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(get_settings(), args))
    except (*CONFIG_ERRORS, InputError) as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
