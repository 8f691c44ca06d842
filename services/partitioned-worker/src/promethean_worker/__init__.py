"""The Promethean partitioned-worker service."""
