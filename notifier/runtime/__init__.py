"""Process plumbing shared by every step: settings, logs, the clock, files reloaded while
running, and the embedded Valkey server of development and tests."""
