"""The store contract: every `Store` adapter must pass these tests unchanged."""
