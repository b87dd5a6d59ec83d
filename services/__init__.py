"""PAHT services: each one a process that owns its schema, its rules and its events."""
