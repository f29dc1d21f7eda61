"""Files ops edit while the engine runs: swapped atomically on change, kept when a change fails.

One :class:`Reloading` holds the rules (:func:`notifier.rules.loader.rules_holder`),
another the templates (:func:`notifier.templates.renderer.templates_holder`). A refused
change leaves the last good version in force and says why in ``last_error``, which
``/healthz`` and ``GET /v1/rules`` show; the next valid change clears it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from notifier.file_errors import RuleSetError

log = logging.getLogger(__name__)


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


T = TypeVar("T", bound=Versioned)


class Reloading(Generic[T]):
    """``load(folder)`` in force, reloaded when ``files(folder)`` change.

    ``load`` raises :class:`RuleSetError` (errors with file and line) for a bad folder: at
    construction it propagates (the engine refuses to start), on reload it is remembered.
    """

    def __init__(
        self,
        what: str,
        folder: Path,
        load: Callable[[Path], T],
        files: Callable[[Path], list[Path]],
    ) -> None:
        self.what = what
        self.folder = folder
        self._load = load
        self._files = files
        self.lock = threading.Lock()
        self._fingerprint = self.fingerprint()
        self.current: T = load(folder)
        self.last_error: RuleSetError | None = None
        # What a fresh version must also pass to go live (raises RuleSetError); see
        # notifier.rules.pairing, which also shares one lock between the rules and templates
        # holders so that each checks against the other's version while it stays in force.
        self.check: Callable[[T], None] = lambda fresh: None
        self.failures = 0  # refused reloads since start (notifier_reload_failures_total)

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Names, sizes and modification times of the files: cheap to poll."""
        try:
            return tuple(
                (str(p), s.st_mtime_ns, s.st_size)
                for p in self._files(self.folder)
                for s in (p.stat(),)
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
        container mounts included) and such a folder is a few dozen files.
        """

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.reload_if_changed()
                except Exception:  # never let the watcher die silently
                    log.exception("%s watcher failed; will try again", self.what)

        thread = threading.Thread(target=loop, name=f"{self.what}-watcher", daemon=True)
        thread.start()
        return thread

    def reload(self) -> bool:
        """Load the folder again; on error keep what is in force and remember why."""
        try:
            fresh = self._load(self.folder)
            with self.lock:
                self.check(fresh)
                changed = fresh.version != self.current.version
                self.current, self.last_error = fresh, None
        except RuleSetError as exc:
            with self.lock:
                self.last_error = exc
                self.failures += 1
            log.error(
                "%s reload refused, keeping version %s:\n%s", self.what, self.current.version, exc
            )
            return False
        if changed:
            log.info("%s reloaded: version %s", self.what, fresh.version)
        return True
