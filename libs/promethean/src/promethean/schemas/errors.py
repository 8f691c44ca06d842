"""Registry errors with Confluent Schema Registry's error codes. The HTTP
status is the code's first three digits (``40401`` → 404)."""

from __future__ import annotations

import enum

from promethean.errors import PrometheanError


class RegistryCode(enum.IntEnum):
    SUBJECT_NOT_FOUND = 40401
    VERSION_NOT_FOUND = 40402
    SCHEMA_NOT_FOUND = 40403
    SUBJECT_SOFT_DELETED = 40404
    SUBJECT_NOT_SOFT_DELETED = 40405
    VERSION_SOFT_DELETED = 40406
    VERSION_NOT_SOFT_DELETED = 40407
    SUBJECT_CONFIG_NOT_FOUND = 40408
    INCOMPATIBLE = 409
    INVALID_SCHEMA = 42201
    INVALID_VERSION = 42202
    INVALID_COMPATIBILITY = 42203
    BAD_REQUEST = 400
    STORE_ERROR = 50001


class RegistryError(PrometheanError, ValueError):
    """A refusal of the registry API, shaped ``{"error_code", "message"}``."""

    code = "schema_registry"

    def __init__(self, error_code: RegistryCode, msg: str) -> None:
        super().__init__(msg)
        self.error_code = error_code

    @property
    def status(self) -> int:
        number = int(self.error_code)
        return number if number < 1000 else number // 100


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(RegistryCode.SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


def version_not_found(subject: str, version: int | str) -> RegistryError:
    return RegistryError(
        RegistryCode.VERSION_NOT_FOUND, f"Version {version} not found for subject '{subject}'."
    )
