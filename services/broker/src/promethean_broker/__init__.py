"""The Promethean broker service."""
