"""The dev outbox: what would have been sent, written as one JSON file per message.

Used whenever a channel has no provider configured, so the demo and most tests run with no
network and no credentials. Files are written under a temporary name and renamed, so a reader
never sees half a message.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from notifier.channels.base import Outcome, OutgoingMessage, SendResult
from notifier.models import Channel


class OutboxTransport:
    timeout = 1.0  # seconds a send can take: a local file write

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lookup(self, message_id: str, channel: Channel) -> str | bool:
        """The file of a message already written on ``channel``, or False: sends are checkable."""
        if self.folder.is_dir():
            for path in self.folder.glob(f"*-{message_id}-{channel.value}.json"):
                return f"outbox:{path.name}"
        return False

    def send(self, message: OutgoingMessage) -> SendResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        sent_at = datetime.now(UTC)
        record = {
            "id": message.id,
            "channel": message.channel.value,
            "to": message.address,
            "regarding": message.subject,
            "rule": message.rule,
            "sent_at": sent_at.isoformat(),
            "content": message.parts,
            **message.metadata,
            **({"discreet": True} if message.discreet else {}),
        }
        name = f"{sent_at:%Y%m%dT%H%M%S%f}-{message.id}-{message.channel.value}.json"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / name)
        return SendResult(Outcome.SENT, reference=f"outbox:{name}")
