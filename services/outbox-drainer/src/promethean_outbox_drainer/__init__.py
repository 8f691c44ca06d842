"""The Promethean outbox-drainer service."""
