from __future__ import annotations

from pathlib import Path

import pytest

from firmware_profiles import (
    ProfileError,
    Protocol,
    load_profile_file,
    parse_profile,
    shipped_profiles,
)

REQUIRED = {"vegapuls_c21", "pms5003", "sds011", "nmea_gps", "mcu_kv"}


def test_shipped_profiles_load_and_cover_the_issue() -> None:
    profiles = shipped_profiles()
    assert profiles.keys() >= REQUIRED
    assert {"keller_series30", "qdy30a"} & profiles.keys()
    assert {"xm9505", "lambrecht_rain_e"} & profiles.keys()
    assert {p.protocol for p in profiles.values()} == set(Protocol)
    for profile in profiles.values():
        assert profile.datasheet, profile.model


GOOD = """
model: tiny
vendor: test
protocol: modbus_rtu
modbus: {default_address: 1}
resources:
  - {name: level, type: int16, register: 4, function: 3, min: 0, max: 100}
datasheet: ["made up"]
"""


def test_minimal_profile_parses() -> None:
    profile = parse_profile(GOOD)
    assert profile.resource("level").register_number == 4


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (("min: 0, max: 100", "min: 100, max: 0"), "resources.0", "min 100.0 must be below max"),
        (("function: 3", "function: 5"), "resources.0.function", "Input should be 3 or 4"),
        (("register: 4, ", ""), "<root>", "needs register and function"),
        (("type: int16", "type: float"), "<root>", "cannot be carried in registers"),
        (("protocol: modbus_rtu", "protocol: frame"), "<root>", "needs a 'frame' section"),
        (("vendor: test", "vendor: test\ncolour: red"), "colour", "Extra inputs are not permitted"),
        (
            ("min: 0, max: 100", "min: 0, max: 100, access: write, scale: 0"),
            "resources.0",
            "scale must not be zero",
        ),
        (
            ("datasheet:", "identity: [{resource: nope, equals_address: true}]\ndatasheet:"),
            "<root>",
            "identity.0: no resource named 'nope'",
        ),
        (
            ("min: 0, max: 100}", "min: 0, max: 100, decimals_from: dp}"),
            "<root>",
            "decimals_from: no resource named 'dp'",
        ),
        (
            ("min: 0, max: 100}", "min: 0, max: 100, decimals_from: level}"),
            "<root>",
            "must have a fixed scale",
        ),
        (
            ("min: 0, max: 100}", "min: 0, max: 100, units_from: level}"),
            "resources.0",
            "units_from and unit_codes go together",
        ),
    ],
)
def test_bad_profile_names_path_and_reason(change: tuple[str, str], path: str, reason: str) -> None:
    text = GOOD.replace(*change)
    with pytest.raises(ProfileError) as info:
        parse_profile(text, "bad.yaml")
    assert path in info.value.path
    assert reason in info.value.reason
    assert info.value.file == "bad.yaml"


def test_frame_field_outside_frame_rejected() -> None:
    text = """
model: f
vendor: t
protocol: frame
frame: {sync: "AA C0", size: 10, trailer: "AB", checksum: {kind: sum8, start: 2}}
resources: [{name: pm, type: uint16, byte_offset: 7}]
datasheet: [x]
"""
    with pytest.raises(ProfileError, match="overlap the checksum"):
        parse_profile(text)


def test_file_name_must_match_model(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(GOOD)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert info.value.path == "model"
    assert str(path) in str(info.value)


def test_yaml_syntax_error_is_a_profile_error() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile("model: [unclosed", "x.yaml")
    assert info.value.path == "<yaml>"
