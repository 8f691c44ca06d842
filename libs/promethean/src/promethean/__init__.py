"""Promethean Event Bus shared library.

Layers, imports pointing down only: core (no I/O) → frames → store →
settings → bus → auth, outbox, schemas → client → runtime → projectors →
cli, testing. Services import this package and never each other.
docs/architecture.md explains them; tests/unit/test_import_layers.py checks.
"""

__version__ = "0.1.0"
