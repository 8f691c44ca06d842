"""Turn driver exceptions into the library's error types at the port boundary.

Callers of the port catch `StoreUnavailableError` (a `ConnectionError`) for a
lost server and `StoreError` for anything else the server refused; they
never see a pymongo type.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Final, ParamSpec, TypeVar

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from promethean.errors import StoreError, StoreUnavailableError

P = ParamSpec("P")
T = TypeVar("T")

DUPLICATE_KEY: Final = 11000
FAILED: Final = "mongodb {operation} failed: {error}"
UNAVAILABLE: Final = "mongodb unavailable during {operation}: {error}"


def is_duplicate_key(error: PyMongoError) -> bool:
    """True when ``error`` is (only) a unique-index violation."""
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        write_errors = error.details.get("writeErrors", [])
        return bool(write_errors) and all(e.get("code") == DUPLICATE_KEY for e in write_errors)
    return isinstance(error, OperationFailure) and error.code == DUPLICATE_KEY


def translated(
    func: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Re-raise driver errors of ``func`` as `StoreUnavailableError`/`StoreError`."""
    operation = func.__name__

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except ConnectionFailure as error:
            raise StoreUnavailableError(
                UNAVAILABLE.format(operation=operation, error=error)
            ) from error
        except PyMongoError as error:
            raise StoreError(FAILED.format(operation=operation, error=error)) from error

    return wrapper
