"""What the rollout store raises."""

from __future__ import annotations


class RolloutNotFound(LookupError):
    pass


class RolloutConflict(ValueError):
    """The change does not fit the rollout's state, or a target is in another open rollout."""


class Stale(Exception):
    """Someone else wrote the rollout since it was read; read again."""
