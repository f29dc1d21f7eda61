"""notifier: a multi-channel notification and reminder engine for public services."""
