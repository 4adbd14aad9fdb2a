"""Checking a configuration file without starting anything: ``kendali config validate`` and
``kendali agent --check``.

A file is checked exactly as the process that reads it would load it (the same loader and the
same models, so the cross-field rules and each sensor's device profile are checked too), and
the result is either one ``ok:`` line that says what the file configures, or one line per
problem that starts with the field's full path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from common import configfile
from common.configfile import ConfigError

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from controller.config import ControllerConfig

# A rule inside a section names the field it is about first ("password: required when ..."):
# that field joins the section's path, so the line reads "cameras.0.password: required ...".
_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.+)$", re.DOTALL)


def problems(exc: ConfigError) -> list[str]:
    """One line per problem, each starting with the field's full path."""
    cause = exc.__cause__
    if not isinstance(cause, ValidationError):
        return [str(exc)]
    lines = []
    for err in cause.errors():
        path = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        match = _FIELD_FIRST.match(msg)
        if match:
            path.append(match.group(1))
            msg = match.group(2)
        lines.append(f"{'.'.join(path) or '<top level>'}: {msg}")
    return lines


def load_agent(path: Path) -> AgentConfig:
    from agent.config import AgentConfig

    return configfile.load(path, AgentConfig)


def load_controller(path: Path) -> ControllerConfig:
    from controller.config import ControllerConfig

    return configfile.load(path, ControllerConfig)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def agent_summary(cfg: AgentConfig) -> str:
    """``gateway gw-01, broker host:8883 with TLS, 2 cameras (1 with motion, 3 zones), ...``"""
    broker = f"broker {cfg.broker.host}:{cfg.broker.port}" + (
        " with TLS" if cfg.broker.tls else " without TLS"
    )
    with_motion = [c for c in cfg.cameras if c.motion is not None and c.motion.enabled]
    zones = sum(len(c.motion.effective_zones()) for c in with_motion if c.motion is not None)
    cams = _count(len(cfg.cameras), "camera")
    if with_motion:
        cams += f" ({len(with_motion)} with motion, {_count(zones, 'zone')})"
    sensors = cfg.sensors.sensors
    rules = sum(len(s.rules.thresholds) + len(s.rules.rate_of_rise) for s in sensors)
    profiles = sorted({s.profile for s in sensors})
    sens = _count(len(sensors), "sensor")
    if sensors:
        sens += f" ({', '.join(profiles)}; {_count(rules, 'rule')})"
    return f"gateway {cfg.gateway_id}, {broker}, {cams}, {sens}"


def controller_summary(cfg: ControllerConfig) -> str:
    from sqlalchemy.engine import make_url

    broker = f"broker {cfg.broker.host}:{cfg.broker.port}" + (
        " with TLS" if cfg.broker.tls else " without TLS"
    )
    # The model has already parsed the URL (its driver check), so this cannot fail here.
    database = make_url(cfg.database.url).render_as_string(hide_password=True)
    return f"controller, {broker}, database {database}"


def check_agent_host(cfg: AgentConfig, path: Path) -> None:
    """What the agent checks on the gateway before it starts, minus everything that changes
    something (umask, instance lock): the config file's permissions, the TLS files, the outbox
    path. Raises :class:`common.preflight.PreflightError`."""
    from common.preflight import check_state_file
    from kendali_cli.startup import check_config_file, check_tls

    check_config_file(path, bool(configfile.secrets_in(cfg)))
    check_tls(cfg.broker.tls, "broker.tls")
    check_state_file(cfg.outbox.path, "outbox.path")
