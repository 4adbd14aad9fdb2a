"""The release manifest: what a release is, signed as its exact bytes (``manifest.json``)."""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Literal

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from common.release.canonical import canonical_json
from strictmodel import StrictModel

PRODUCT = "kendali-agent"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
RESERVED_NAMES = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
# A plain file name: the agent writes each file under this name in its download directory, so no
# separator, no leading dot (hidden files, "..") and nothing a shell or URL must escape.
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def parse_version(text: str) -> Version:
    """A PEP 440 version, or ValueError saying what is wrong."""
    try:
        return Version(text)
    except InvalidVersion:
        raise ValueError(
            f"{text!r} is not a PEP 440 version (for example 1.4.0 or 1.4.0rc1)"
        ) from None


def _pep440(text: str) -> str:
    parse_version(text)
    return text


def _utc(value: datetime.datetime) -> datetime.datetime:
    # One spelling for one instant, so a re-serialised model signs the same bytes.
    return value.astimezone(datetime.UTC)


VersionText = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_pep440)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class FileEntry(StrictModel):
    name: str = Field(description="File name in the artifact directory (a wheel).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256.")
    size: int = Field(ge=0, le=2**40, description="Size in bytes.")

    @model_validator(mode="after")
    def _plain_name(self) -> FileEntry:
        if not FILE_NAME_RE.fullmatch(self.name) or self.name in RESERVED_NAMES:
            raise ValueError(f"file name {self.name!r} is not a plain file name")
        return self


class Manifest(StrictModel):
    """One agent release. Signed by ``key_id``; valid from ``created_at`` until ``expires_at``."""

    format: Literal[1] = Field(default=1, description="Manifest format version.")
    product: str = Field(description=f"Always {PRODUCT!r} for an agent release.")
    version: VersionText = Field(description="PEP 440 version of the release.")
    files: tuple[FileEntry, ...] = Field(min_length=1, max_length=256)
    created_at: UtcTime
    expires_at: UtcTime
    min_compatible_version: VersionText | None = Field(
        default=None,
        description="A gateway running an older version must not install this release directly.",
    )
    key_id: KeyId = Field(description="The signing key's id.")
    notes: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must be after created_at")
        names = [entry.name for entry in self.files]
        if len(set(names)) != len(names):
            raise ValueError("a file name is listed twice")
        if self.min_compatible_version is not None and parse_version(
            self.min_compatible_version
        ) > parse_version(self.version):
            raise ValueError("min_compatible_version is above the release's own version")
        return self

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    def canonical_bytes(self) -> bytes:
        """The exact bytes written to ``manifest.json`` and signed."""
        return canonical_json(self.model_dump(mode="json", exclude_none=True))
