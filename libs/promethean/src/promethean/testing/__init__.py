"""The in-memory mock broker and its test helpers."""
