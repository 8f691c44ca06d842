"""Contract suites: one body of tests run unchanged against every adapter."""
