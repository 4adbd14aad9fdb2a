"""Desired configuration of the fleet: layers (fleet, site, gateway), effective versions per
gateway, history, audit, drift, and secrets encrypted at rest."""

from controller.config_store.drift import Drift
from controller.config_store.errors import (
    BadScope,
    ConfigKeyError,
    ConfigStoreError,
    InvalidConfig,
    StaleBase,
    UnknownVersion,
)
from controller.config_store.history import GatewayChange, HistoryEntry
from controller.config_store.merge import compose, deep_merge, diff, mask
from controller.config_store.scope import FLEET, Scope
from controller.config_store.secrets import load_key
from controller.config_store.service import (
    ConfigStore,
    Validator,
    WriteResult,
)

__all__ = [
    "FLEET",
    "BadScope",
    "ConfigKeyError",
    "ConfigStore",
    "ConfigStoreError",
    "Drift",
    "GatewayChange",
    "HistoryEntry",
    "InvalidConfig",
    "Scope",
    "StaleBase",
    "UnknownVersion",
    "Validator",
    "WriteResult",
    "compose",
    "deep_merge",
    "diff",
    "load_key",
    "mask",
]
