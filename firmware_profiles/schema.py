"""The schema of a device profile: what a serial sensor model says on the wire and what it means.

A profile is data, not code, so a technician can add a model by writing YAML. Cross-checks live
here (a Modbus profile needs registers, a frame field must fit inside the frame) so a mistake is
caught when the profile loads rather than as a wrong reading at 3 a.m. during a flood.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from strictmodel import StrictModel

ResourceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
HEX_RE = re.compile(r"^([0-9A-Fa-f]{2})( ?[0-9A-Fa-f]{2})*$")


Base = StrictModel
"""Every profile model rejects unknown keys, so a typo is an error rather than a default; the
project's one base (``populate_by_name`` lets ``register`` be given by its alias)."""


class Protocol(StrEnum):
    MODBUS_RTU = "modbus_rtu"
    FRAME = "frame"
    LINE = "line"


class ValueType(StrEnum):
    """Raw encodings on the wire; the reading is ``raw * scale + offset``."""

    UINT8 = "uint8"
    INT8 = "int8"
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"
    FLOAT = "float"  # text number (line protocols)
    INT = "int"  # text integer (line protocols)
    STRING = "string"  # text, passed through unscaled
    LATITUDE = "latitude"  # NMEA ddmm.mmmm + hemisphere field
    LONGITUDE = "longitude"  # NMEA dddmm.mmmm + hemisphere field


BYTE_WIDTH = {
    ValueType.UINT8: 1,
    ValueType.INT8: 1,
    ValueType.UINT16: 2,
    ValueType.INT16: 2,
    ValueType.UINT32: 4,
    ValueType.INT32: 4,
    ValueType.FLOAT32: 4,
}
TEXT_TYPES = frozenset(
    {ValueType.FLOAT, ValueType.INT, ValueType.STRING, ValueType.LATITUDE, ValueType.LONGITUDE}
)


def hex_bytes(text: str) -> bytes:
    """Parse ``"42 4D E2"`` into bytes (profiles write byte strings as spaced hex)."""
    return bytes.fromhex(text.replace(" ", ""))


HexStr = Annotated[str, StringConstraints(pattern=HEX_RE.pattern)]


class SerialSettings(Base):
    baudrate: int = Field(default=9600, ge=300, le=921_600, description="Bits per second.")
    bytesize: Literal[7, 8] = Field(default=8, description="Data bits per character.")
    parity: Literal["N", "E", "O"] = Field(default="N", description="Parity: none, even, odd.")
    stopbits: Literal[1, 2] = Field(default=1, description="Stop bits.")
    timeout_s: float = Field(default=1.0, gt=0, le=30, description="Reply timeout per request.")

    @property
    def char_time_s(self) -> float:
        """Seconds per character on the wire (start + data + parity + stop bits)."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baudrate


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    READ_WRITE = "read_write"


class WordOrder(StrEnum):
    """Byte order of a 32-bit value across two registers; A is the most significant byte."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


class UnitCode(Base):
    """What one value of a device's unit register means, relative to the resource's units."""

    units: str = Field(min_length=1, max_length=32, description="Unit the device reports in.")
    factor: float = Field(description="Multiply by this to get the resource's declared units.")

    @field_validator("factor")
    @classmethod
    def _nonzero(cls, factor: float) -> float:
        if factor == 0:
            raise ValueError("factor must not be zero")
        return factor


class Resource(Base):
    """One value the device exposes, with how it is encoded and where it sits."""

    name: ResourceName = Field(description="Resource id used in readings and rules.")
    type: ValueType = Field(description="Raw encoding on the wire.")
    units: str = Field(default="", max_length=32, description="Unit of the scaled value.")
    scale: float = Field(default=1.0, description="Multiplier applied to the raw value.")
    offset: float = Field(default=0.0, description="Added after scaling.")
    min: float | None = Field(default=None, description="Lowest valid scaled value.")
    max: float | None = Field(default=None, description="Highest valid scaled value.")
    access: Access = Field(
        default=Access.READ, description="Whether the master reads or writes it."
    )
    invalid_raw: list[int] = Field(
        default_factory=list, max_length=8, description="Raw sentinels meaning 'no valid value'."
    )
    description: str = Field(default="", max_length=300, description="What the value means.")
    example: float | str | None = Field(
        default=None, description="Typical value (simulator default)."
    )
    # Modbus source
    register_number: int | None = Field(
        default=None, alias="register", ge=0, le=65535, description="Register number."
    )
    function: Literal[3, 4] | None = Field(default=None, description="Read function code.")
    word_order: WordOrder = Field(default=WordOrder.ABCD, description="32-bit register order.")
    # Frame source
    byte_offset: int | None = Field(default=None, ge=0, le=1024, description="Offset in the frame.")
    endian: Literal["big", "little"] = Field(default="big", description="Byte order in the frame.")
    # Line source
    key: str | None = Field(default=None, max_length=32, description="Key in a key=value line.")
    sentence: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="NMEA sentence type (GGA, RMC ...)."
    )
    field: int | None = Field(
        default=None, ge=1, le=40, description="NMEA field index after the tag."
    )
    # Scale taken from the device itself
    decimals_from: ResourceName | None = Field(
        default=None,
        description="Resource holding the device's decimal places: scale becomes 10^-n.",
    )
    units_from: ResourceName | None = Field(
        default=None,
        description="Resource holding the device's unit code (looked up in unit_codes).",
    )
    unit_codes: dict[int, UnitCode] = Field(
        default_factory=dict,
        max_length=32,
        description="Unit code -> unit and factor to this resource's units (with units_from).",
    )

    @model_validator(mode="after")
    def _check(self) -> Resource:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        if self.scale == 0:
            raise ValueError("scale must not be zero")
        if self.type == ValueType.STRING and (self.min is not None or self.max is not None):
            raise ValueError("a string resource has no min/max")
        if (self.units_from is None) != (not self.unit_codes):
            raise ValueError("units_from and unit_codes go together")
        return self

    @property
    def registers(self) -> int:
        """How many 16-bit registers the value spans."""
        return 2 if BYTE_WIDTH.get(self.type, 2) == 4 else 1

    @property
    def readable(self) -> bool:
        return self.access != Access.WRITE


class RegisterNumbering(StrEnum):
    """How a profile's register numbers map to the address on the wire: vendors disagree."""

    PDU = "pdu"  # the number is the wire address (e.g. Lambrecht puts 31001 itself on the wire)
    ONE_BASED = "one_based"  # wire address = number - 1
    MODICON = "modicon"  # 40001/30001 style: wire address = number % 10000 - 1


class ModbusSettings(Base):
    default_address: int = Field(default=1, ge=1, le=247, description="Factory slave address.")
    numbering: RegisterNumbering = Field(
        default=RegisterNumbering.PDU, description="Register numbering."
    )
    reply_delay_ms: int = Field(
        default=0, ge=0, le=1000, description="Device's configured reply delay."
    )
    retries: int = Field(default=1, ge=0, le=5, description="Retries per request (wake-up drop).")

    def wire_address(self, register: int) -> int:
        if self.numbering == RegisterNumbering.ONE_BASED:
            return register - 1
        if self.numbering == RegisterNumbering.MODICON:
            return register % 10000 - 1
        return register


class ChecksumKind(StrEnum):
    SUM8 = "sum8"  # low byte of the byte sum
    SUM16 = "sum16"  # 16-bit byte sum
    XOR8 = "xor8"
    CRC16_MODBUS = "crc16_modbus"
    NONE = "none"


class FrameChecksum(Base):
    kind: ChecksumKind = Field(description="Algorithm.")
    start: int = Field(default=0, ge=0, description="First covered byte.")
    end: int = Field(
        default=-2, le=0, description="End of cover, exclusive, counted from the frame end."
    )
    at: int = Field(
        default=-2, lt=0, description="Where the checksum sits, counted from the frame end."
    )
    endian: Literal["big", "little"] = Field(default="big", description="Checksum byte order.")

    @property
    def width(self) -> int:
        return {ChecksumKind.SUM16: 2, ChecksumKind.CRC16_MODBUS: 2, ChecksumKind.NONE: 0}.get(
            self.kind, 1
        )


class FrameLayout(Base):
    """A binary frame: sync bytes, a fixed size or a length field, a checksum, an end byte."""

    sync: HexStr = Field(description="Bytes that start every frame, spaced hex.")
    size: int | None = Field(default=None, ge=3, le=1024, description="Fixed frame size in bytes.")
    length_offset: int | None = Field(
        default=None, ge=1, le=16, description="Offset of a length field."
    )
    length_size: Literal[1, 2] = Field(default=2, description="Width of the length field.")
    length_adjust: int = Field(
        default=0, ge=0, le=64, description="Frame size = length field + this."
    )
    max_size: int = Field(default=256, ge=4, le=1024, description="Longest frame accepted.")
    typical_size: int | None = Field(
        default=None,
        ge=3,
        le=1024,
        description="Usual size of a length-field frame (simulator, checks).",
    )
    trailer: HexStr | None = Field(default=None, description="Byte(s) that end every frame.")
    checksum: FrameChecksum = Field(description="Integrity check.")
    request: HexStr | None = Field(
        default=None, description="Command asking for one frame (polled mode)."
    )
    init: list[HexStr] = Field(
        default_factory=list, max_length=8, description="Commands sent on open."
    )

    @model_validator(mode="after")
    def _check(self) -> FrameLayout:
        if (self.size is None) == (self.length_offset is None):
            raise ValueError("give exactly one of size or length_offset")
        if self.length_offset is not None and self.length_offset < len(hex_bytes(self.sync)):
            raise ValueError("length field overlaps the sync bytes")
        if (
            self.typical_size is not None
            and not self.min_size <= self.typical_size <= self.max_size
        ):
            raise ValueError(f"typical_size must lie in {self.min_size}..{self.max_size}")
        return self

    @property
    def nominal_size(self) -> int:
        """Fixed size, or the typical size of a variable frame (falling back to the minimum)."""
        return self.size or self.typical_size or self.min_size

    @property
    def min_size(self) -> int:
        if self.size is not None:
            return self.size
        assert self.length_offset is not None
        return self.length_offset + self.length_size + self.checksum.width


class LineFormat(StrEnum):
    NMEA = "nmea"
    KEY_VALUE = "key_value"


class LineLayout(Base):
    format: LineFormat = Field(description="NMEA 0183 sentences or key=value pairs.")
    terminator: Literal["\n", "\r\n", "\r"] = Field(default="\r\n", description="Line end.")
    separator: str = Field(default=",", min_length=1, max_length=2, description="Pair separator.")
    assign: str = Field(default="=", min_length=1, max_length=1, description="Key/value separator.")
    request: str | None = Field(default=None, max_length=64, description="Text asking for a line.")
    max_line: int = Field(default=128, ge=16, le=1024, description="Longest line accepted.")


class FirmwareId(Base):
    """How to read the firmware version, where the device exposes one."""

    register_number: int | None = Field(
        default=None, alias="register", ge=0, le=65535, description="Modbus register."
    )
    function: Literal[3, 4] = Field(default=3, description="Read function code.")
    count: int = Field(default=1, ge=1, le=16, description="Registers to read.")
    request: str | None = Field(default=None, max_length=64, description="Line command.")
    key: str | None = Field(default=None, max_length=32, description="Key carrying the version.")
    note: str = Field(default="", max_length=300, description="Where the version comes from.")


class IdentityCheck(Base):
    """A register whose value must match for a device to be this model (probing by evidence):
    a configuration register such as the slave address, or an identity/type code."""

    resource: ResourceName = Field(description="Readable resource that carries the evidence.")
    equals_address: bool = Field(
        default=False, description="The value must equal the slave address it was read from."
    )
    values: list[float] = Field(
        default_factory=list, max_length=32, description="Accepted values (empty: any in range)."
    )
    note: str = Field(default="", max_length=200, description="Why this identifies the model.")


class FirmwareProfile(Base):
    """A device model: serial parameters, protocol, resources and the datasheet facts used."""

    model: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")] = Field(
        description="Profile name, equal to the file name without .yaml."
    )
    vendor: str = Field(min_length=1, max_length=64, description="Manufacturer.")
    description: str = Field(default="", max_length=500, description="What the device measures.")
    protocol: Protocol = Field(description="Wire protocol family.")
    serial: SerialSettings = Field(default_factory=SerialSettings, description="Port parameters.")
    poll_interval_s: float = Field(default=5.0, gt=0, le=86_400, description="Default poll period.")
    modbus: ModbusSettings | None = Field(default=None, description="Modbus RTU parameters.")
    frame: FrameLayout | None = Field(default=None, description="Binary frame layout.")
    line: LineLayout | None = Field(default=None, description="Line protocol layout.")
    resources: list[Resource] = Field(min_length=1, max_length=64, description="Values exposed.")
    firmware: FirmwareId | None = Field(default=None, description="Firmware identification.")
    identity: list[IdentityCheck] = Field(
        default_factory=list,
        max_length=16,
        description="Registers that must match when probing (evidence beyond 'it answered').",
    )
    datasheet: list[str] = Field(
        min_length=1, max_length=40, description="Facts used, with sources."
    )

    @field_validator("resources")
    @classmethod
    def _unique_names(cls, resources: list[Resource]) -> list[Resource]:
        names = [r.name for r in resources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate resource names: {', '.join(dupes)}")
        return resources

    @model_validator(mode="after")
    def _cross_check(self) -> FirmwareProfile:
        sections = {
            Protocol.MODBUS_RTU: self.modbus,
            Protocol.FRAME: self.frame,
            Protocol.LINE: self.line,
        }
        if sections[self.protocol] is None:
            raise ValueError(
                f"protocol {self.protocol} needs a '{self.protocol.split('_')[0]}' section"
            )
        others = [p for p, s in sections.items() if p != self.protocol and s is not None]
        if others:
            raise ValueError(f"protocol {self.protocol} must not carry sections for {others[0]}")
        for index, res in enumerate(self.resources):
            try:
                _CHECKS[self.protocol](self, res)
            except ValueError as exc:
                raise ValueError(f"resources.{index} ({res.name}): {exc}") from None
        _check_references(self)
        return self

    def resource(self, name: str) -> Resource:
        for res in self.resources:
            if res.name == name:
                return res
        raise KeyError(name)


def _check_references(profile: FirmwareProfile) -> None:
    """``decimals_from`` and identity checks must name readable numeric resources."""
    by_name = {r.name: r for r in profile.resources}

    def numeric(name: str, where: str) -> Resource:
        res = by_name.get(name)
        if res is None:
            raise ValueError(f"{where}: no resource named {name!r}")
        if not res.readable or res.type in (ValueType.STRING,):
            raise ValueError(f"{where}: {name!r} must be a readable number")
        return res

    for index, res in enumerate(profile.resources):
        for attr in ("decimals_from", "units_from"):
            name = getattr(res, attr)
            if name is None:
                continue
            source = numeric(name, f"resources.{index} ({res.name}).{attr}")
            if source.decimals_from or source.units_from or source.name == res.name:
                raise ValueError(
                    f"resources.{index} ({res.name}).{attr}: {source.name!r} "
                    "must have a fixed scale"
                )
    for index, check in enumerate(profile.identity):
        numeric(check.resource, f"identity.{index}")
        if check.equals_address and profile.protocol != Protocol.MODBUS_RTU:
            raise ValueError(f"identity.{index}: equals_address needs a Modbus profile")


def _check_modbus(profile: FirmwareProfile, res: Resource) -> None:
    assert profile.modbus is not None
    if res.register_number is None or res.function is None:
        raise ValueError("a Modbus resource needs register and function")
    if res.type in TEXT_TYPES:
        raise ValueError(f"type {res.type} cannot be carried in registers")
    wire = profile.modbus.wire_address(res.register_number)
    if not 0 <= wire <= 65535 - res.registers + 1:
        raise ValueError(f"register {res.register_number} maps outside the address space")
    if res.access != Access.READ and res.function != 3:
        raise ValueError("a writable resource must be a holding register (function 3)")


def _check_frame(profile: FirmwareProfile, res: Resource) -> None:
    layout = profile.frame
    assert layout is not None
    if res.byte_offset is None:
        raise ValueError("a frame resource needs byte_offset")
    if res.type not in BYTE_WIDTH:
        raise ValueError(f"type {res.type} is not a binary type")
    if res.access != Access.READ:
        raise ValueError("frame resources are read-only")
    size = layout.nominal_size
    payload_end = size - layout.checksum.width - len(hex_bytes(layout.trailer or ""))
    end = res.byte_offset + BYTE_WIDTH[res.type]
    if end > payload_end:
        raise ValueError(
            f"bytes {res.byte_offset}..{end} overlap the checksum"
            f" or lie outside the {size}-byte frame"
        )
    header = layout.length_offset + layout.length_size if layout.length_offset is not None else 0
    if res.byte_offset < header:
        raise ValueError("field overlaps the length field")
    if res.byte_offset < len(hex_bytes(layout.sync)):
        raise ValueError("field overlaps the sync bytes")


def _check_line(profile: FirmwareProfile, res: Resource) -> None:
    layout = profile.line
    assert layout is not None
    if res.type not in TEXT_TYPES:
        raise ValueError(f"type {res.type} is not a text type")
    if layout.format == LineFormat.KEY_VALUE and not res.key:
        raise ValueError("a key=value resource needs key")
    if layout.format == LineFormat.NMEA and (res.sentence is None or res.field is None):
        raise ValueError("an NMEA resource needs sentence and field")
    if res.access != Access.READ:
        raise ValueError("line resources are read-only")


_CHECKS = {
    Protocol.MODBUS_RTU: _check_modbus,
    Protocol.FRAME: _check_frame,
    Protocol.LINE: _check_line,
}
