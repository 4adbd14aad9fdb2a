"""Serial sensors: profile-driven drivers (Modbus RTU, binary frames, lines), edge rules and the
service the agent runs. The agent config embeds :class:`SensorConfig` / :class:`SensorsSection`."""

from agent.sensors.config import (
    Level,
    RateOfRiseRule,
    RulesConfig,
    SensorConfig,
    SensorsSection,
    SerialOverrides,
    ThresholdRule,
)
from agent.sensors.errors import (
    ChecksumError,
    DeviceException,
    ParseError,
    PortBusy,
    PortError,
    PortLost,
    SensorError,
    SensorTimeout,
)
from agent.sensors.service import SensorService

__all__ = [
    "ChecksumError",
    "DeviceException",
    "Level",
    "ParseError",
    "PortBusy",
    "PortError",
    "PortLost",
    "RateOfRiseRule",
    "RulesConfig",
    "SensorConfig",
    "SensorError",
    "SensorService",
    "SensorTimeout",
    "SensorsSection",
    "SerialOverrides",
    "ThresholdRule",
]
