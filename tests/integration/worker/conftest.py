from tests.integration.worker.support import worker_process

__all__ = ["worker_process"]
