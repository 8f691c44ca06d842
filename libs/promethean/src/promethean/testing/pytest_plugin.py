"""pytest plugin: the ``bus`` fixture (a fresh in-memory broker per test)."""
