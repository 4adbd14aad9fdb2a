"""Device profiles: one YAML file per hardware model, validated against a schema when loaded."""

from firmware_profiles.loader import (
    PROFILE_DIR,
    ProfileError,
    get_profile,
    load_profile_file,
    load_profiles,
    parse_profile,
    shipped_profiles,
)
from firmware_profiles.schema import (
    FirmwareProfile,
    FrameLayout,
    LineFormat,
    LineLayout,
    ModbusSettings,
    Protocol,
    Resource,
    SerialSettings,
    ValueType,
    WordOrder,
    hex_bytes,
)

__all__ = [
    "PROFILE_DIR",
    "FirmwareProfile",
    "FrameLayout",
    "LineFormat",
    "LineLayout",
    "ModbusSettings",
    "ProfileError",
    "Protocol",
    "Resource",
    "SerialSettings",
    "ValueType",
    "WordOrder",
    "get_profile",
    "hex_bytes",
    "load_profile_file",
    "load_profiles",
    "parse_profile",
    "shipped_profiles",
]
