"""The Promethean compactor service."""
