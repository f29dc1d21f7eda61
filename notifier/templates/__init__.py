"""Message templates: loading, sandboxed rendering, locale-aware formatting."""
