"""Runtime kit shared by every service: logging, health, metrics helpers."""
