"""The rule set in force, swapped atomically on reload and kept when a reload fails."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from notifier.rules.loader import RuleSet, RuleSetError, load_rules

log = logging.getLogger(__name__)


class RulesHolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self.current: RuleSet = load_rules(folder)
        self.last_error: RuleSetError | None = None

    def reload(self) -> bool:
        """Load the folder again; on error keep the rules in force and remember why."""
        try:
            fresh = load_rules(self.folder)
        except RuleSetError as exc:
            with self._lock:
                self.last_error = exc
            log.error("rules reload refused, keeping version %s:\n%s", self.current.version, exc)
            return False
        with self._lock:
            changed = fresh.version != self.current.version
            self.current, self.last_error = fresh, None
        if changed:
            log.info("rules reloaded: version %s, %d rules", fresh.version, len(fresh.rules))
        return True
