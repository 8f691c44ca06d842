"""The Promethean gateway service."""
