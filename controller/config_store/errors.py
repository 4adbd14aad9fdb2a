"""What the configuration store refuses, each with a message an operator can act on."""

from __future__ import annotations


class ConfigStoreError(Exception):
    """Base of the configuration store's expected failures."""


class ConfigKeyError(ConfigStoreError):
    """The key file is missing, unreadable, too open, or does not match the stored secrets."""


class BadScope(ConfigStoreError):
    """A layer name that is not ``fleet``, ``site:NAME`` or ``gateway:ID``, or a bad document."""


class StaleBase(ConfigStoreError):
    """A write based on a layer version that is no longer current (someone else wrote)."""

    def __init__(self, scope: str, base: int, current: int) -> None:
        super().__init__(
            f"{scope} is at version {current}, not {base}: someone changed it since; "
            f"show it again and re-apply your change on version {current}"
        )
        self.current = current


class InvalidConfig(ConfigStoreError):
    """The write would give at least one gateway an invalid configuration."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(problems))
        self.problems = problems


class UnknownVersion(ConfigStoreError):
    """A rollback or diff to a version that history does not hold."""
