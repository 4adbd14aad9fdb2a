"""Camera profiles: the shipped ones load, and a bad firmware block is refused with the field
path and the reason (versions that do not parse, ordering that makes no sense, malformed ranges
and advisories)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from firmware_profiles.camera_loader import (
    match_camera,
    parse_camera_profile,
    shipped_camera_profiles,
)
from firmware_profiles.loader import ProfileError
from firmware_profiles.versions import OrderBy, VersionError, compare, parse_version

HIK = r"^V(?P<version>\d+\.\d+\.\d+) build (?P<build>\d{6})$"


def profile(**firmware: Any) -> str:
    block: dict[str, Any] = {
        "format": {"pattern": HIK, "order_by": "version_build"},
        "current": "V5.7.3 build 220112",
        "minimum": "V5.5.0 build 170725",
        "update_method": "onvif_http_upgrade",
    }
    block.update(firmware)
    doc = {
        "model": "test_cam",
        "vendor": "Test",
        "manufacturers": ["TEST"],
        "models": ["T-1"],
        "firmware": {k: v for k, v in block.items() if v is not None},
        "sources": ["made up"],
    }
    return yaml.safe_dump(doc)


def cve(**kw: Any) -> dict[str, Any]:
    return {"id": "CVE-2021-36260", "kind": "cve", **kw}


def test_shipped_camera_profiles_load_and_match_their_identities() -> None:
    profiles = shipped_camera_profiles()
    assert {"kendali_simcam_1", "hikvision_ds_2cd2143g2_i", "dahua_ipc_hx3xxx"} <= set(profiles)
    assert match_camera(profiles, "hikvision", "ds-2cd2143g2-i") is not None  # any case
    assert match_camera(profiles, "Dahua", "IPC-HDW3441T-ZAS").model == "dahua_ipc_hx3xxx"
    assert match_camera(profiles, "Dahua", "IPC-HDW2431T-AS-S2") is None  # 2 series: not listed
    assert match_camera(profiles, "", "SimCam-1") is None
    hik = profiles["hikvision_ds_2cd2143g2_i"].firmware.vulnerable[0]
    assert not hik.verified and hik.kev  # the CVE record gives no versions: not claimed


def test_a_good_profile_parses() -> None:
    good = profile(vulnerable=[{"fixed": "V5.5.800 build 210628", "verified": True,
                                "advisories": [cve(kev=True)]}])  # fmt: skip
    parsed = parse_camera_profile(good)
    assert parsed.firmware.vulnerable[0].kev


BAD = [
    ("current does not parse", {"current": "5.7.3"}, "firmware: current: "),
    ("minimum does not parse", {"minimum": "V5.5 build 1707"}, "firmware: minimum: "),
    ("minimum above current", {"minimum": "V5.8.0 build 230101"}, "newer than current"),
    ("bad date in a build", {"minimum": "V5.5.0 build 171325"}, "not a date"),
    ("unknown update method", {"update_method": "usb_stick"}, "firmware.update_method"),
    ("pattern without version group", {"format": {"pattern": r"^\d+$"}}, "group 'version'"),
    ("pattern that does not compile", {"format": {"pattern": "(["}}, "does not compile"),
    ("build order without a build group",
     {"format": {"pattern": r"^(?P<version>\d+)$", "order_by": "build"}}, "group 'build'"),
    ("range upside down",
     {"vulnerable": [{"introduced": "V5.6.0 build 200101", "fixed": "V5.5.0 build 190101",
                      "verified": True, "advisories": [cve()]}]}, "older than fixed"),
    ("range bound does not parse",
     {"vulnerable": [{"fixed": "five", "verified": True, "advisories": [cve()]}]},
     "vulnerable.0.fixed"),
    ("verified range without bounds",
     {"vulnerable": [{"verified": True, "advisories": [cve()]}]}, "needs 'introduced' or"),
    ("range without advisories",
     {"vulnerable": [{"fixed": "V5.5.0 build 190101", "verified": True, "advisories": []}]},
     "advisories"),
    ("range without verified flag",
     {"vulnerable": [{"fixed": "V5.5.0 build 190101", "advisories": [cve()]}]}, "verified"),
    ("malformed CVE id",
     {"vulnerable": [{"fixed": "V5.5.0 build 190101", "verified": True,
                      "advisories": [{"id": "CVE-21-1", "kind": "cve"}]}]}, "not a CVE id"),
    ("current inside a verified range",
     {"vulnerable": [{"fixed": "V5.8.0 build 230101", "verified": True,
                      "advisories": [cve()]}]}, "is itself in a verified"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "expect"), BAD, ids=[b[0] for b in BAD])
def test_bad_firmware_blocks_are_refused(case: str, change: dict[str, Any], expect: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_camera_profile(profile(**change))
    assert expect in str(caught.value), case


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ProfileError, match=r"firmware\.latest"):
        parse_camera_profile(profile(latest="V6"))


VERSIONS = [
    ("V5.5.0 build 170725", (5, 5, 0), 20170725),
    ("V2.800.0000018.0, Build Date: 2021-07-07", (2, 800, 18, 0), 20210707),
    ("9.80.3.13", (9, 80, 3, 13), None),
    ("v1.2", (1, 2), None),
]


@pytest.mark.parametrize(("text", "numbers", "build"), VERSIONS)
def test_default_version_format(text: str, numbers: tuple[int, ...], build: int | None) -> None:
    parsed = parse_version(text)
    assert (parsed.numbers, parsed.build) == (numbers, build)


@pytest.mark.parametrize("text", ["", "latest", "V5.5.0 build 17072", "1..2", "x" * 200])
def test_unparseable_versions_raise(text: str) -> None:
    with pytest.raises(VersionError):
        parse_version(text)


def test_comparison_is_none_when_the_order_cannot_be_told() -> None:
    dated = parse_version("V2.800.0 build 210707")
    bare = parse_version("V2.800.0")
    newer = parse_version("V2.801.0")
    assert compare(dated, bare, OrderBy.BUILD) is None
    assert compare(dated, bare, OrderBy.VERSION_BUILD) is None  # same numbers, one build
    assert compare(bare, newer, OrderBy.VERSION_BUILD) == -1
    assert compare(parse_version("1.10"), parse_version("1.9"), OrderBy.VERSION) == 1
    assert compare(parse_version("1.2"), parse_version("1.2.0"), OrderBy.VERSION) == 0
