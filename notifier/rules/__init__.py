"""Rule files: schema, loader with file:line errors, and the pure planning engine."""
