"""Promethean Event Bus shared library.

Layers, imports pointing down only: core (no I/O) → ports → adapters →
runtime kit. Services import this package and never each other.
"""

__version__ = "0.1.0"
