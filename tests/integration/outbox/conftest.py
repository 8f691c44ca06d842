from tests.integration.outbox.drainer_process import drainer_process

__all__ = ["drainer_process"]
