"""The rule set in force, swapped atomically on reload and kept when a reload fails."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from notifier.rules.loader import RuleSet, RuleSetError, load_rules, rule_files

log = logging.getLogger(__name__)


class RulesHolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._fingerprint = self.fingerprint()
        self.current: RuleSet = load_rules(folder)
        self.last_error: RuleSetError | None = None

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Names, sizes and modification times of the rule files: cheap to poll."""
        try:
            return tuple(
                (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in rule_files(self.folder)
            )
        except OSError:  # a file removed while listing: look again next time
            return ()

    def reload_if_changed(self) -> bool | None:
        """Reload when the files changed; None when they did not."""
        fingerprint = self.fingerprint()
        if fingerprint == self._fingerprint:
            return None
        self._fingerprint = fingerprint
        return self.reload()

    def watch(self, stop: threading.Event, interval: float) -> threading.Thread:
        """Poll the folder in a daemon thread until ``stop`` is set.

        Polling rather than inotify: it works the same on every file system (network and
        container mounts included) and a rules folder is a handful of files.
        """

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.reload_if_changed()
                except Exception:  # never let the watcher die silently
                    log.exception("rules watcher failed; will try again")

        thread = threading.Thread(target=loop, name="rules-watcher", daemon=True)
        thread.start()
        return thread

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
