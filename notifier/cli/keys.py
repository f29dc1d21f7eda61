"""``notifier keys`` (the upstream clients' API keys) and ``notifier vapid`` (web push keys)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from notifier.runtime.settings import Settings

if TYPE_CHECKING:
    from notifier.cli import Commands


def register(commands: Commands) -> None:
    keys = commands.add_parser("keys", help="API keys of upstream clients")
    keys.set_defaults(handler=cmd_keys)
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    add = keys_commands.add_parser("add", help="create a key; printed once")
    add.add_argument("client")
    add.add_argument("--events", nargs="*", help="allowed event types, e.g. 'appointment.*'")
    add.add_argument(
        "--scopes",
        default="events",
        help="what the key may do, comma-separated: events (post events, read their "
        "messages), recipients (register recipients), erase (erase recipients), ops (the "
        "support console); default: events",
    )
    add.add_argument(
        "--tenant",
        help="share subjects and messages with the other clients of this tenant "
        "(default: the client's own)",
    )
    keys_commands.add_parser("revoke", help="remove a client's keys").add_argument("client")
    keys_commands.add_parser("list", help="clients: tenant, scopes, event types they may post")
    vapid = commands.add_parser("vapid", help="web push keys")
    vapid.add_subparsers(dest="vapid_command", required=True).add_parser(
        "generate", help="print a new VAPID key pair"
    ).set_defaults(handler=cmd_vapid_generate)


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.store.apikeys import ApiKeys, parse_scopes
    from notifier.store.connections import engine_client

    keys = ApiKeys(engine_client(settings), {})
    if args.keys_command == "add":
        try:
            key = keys.add(
                args.client, args.events or [], scopes=parse_scopes(args.scopes), tenant=args.tenant
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(key)
        print(
            f"# the API key of {args.client}: shown once, only its digest is stored",
            file=sys.stderr,
        )
    elif args.keys_command == "revoke":
        count = keys.revoke(args.client)
        print(f"{count} key(s) of {args.client} revoked")
        return 0 if count else 1
    else:
        for client in keys.clients():
            print(
                f"{client.name}\ttenant={client.tenant}\t"
                f"scopes={','.join(sorted(client.scopes))}\t"
                f"{' '.join(client.events or ['(any event type)'])}"
            )
    return 0


def cmd_vapid_generate(settings: Settings, args: argparse.Namespace) -> int:
    from notifier.channels.webpush import generate_vapid_keys

    private, public = generate_vapid_keys()
    print(f"NOTIFIER_VAPID_PRIVATE_KEY={private}")
    print(f"# public key, for the browser's PushManager.subscribe(applicationServerKey): {public}")
    return 0
