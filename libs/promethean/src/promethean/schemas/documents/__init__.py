"""Machine-readable API documents: AsyncAPI 3.0 for the topics and the
gateway protocol, OpenAPI 3.1 for the broker's and the gateway's HTTP APIs.
Pure functions of the data passed in."""
