"""Agencies and what they own, from the controller's configuration file.

The command center is shared: disaster management (BPBD), transport, education, revenue. Each
agency owns sites, optionally single devices, and alert types. Who owns an alert, in order:

1. the agencies that own its **type** (``flood.*`` belongs to BPBD wherever the sensor stands:
   a transport operator never sees a flood alert, even from a site transport shares);
2. otherwise the agencies that own its **device** (a gateway, or one camera or sensor on it);
3. otherwise the agencies that own its gateway's **site**.

An alert nobody owns is seen by the command center's own staff only (users with
``all_agencies``). The same rule decides which devices an operator sees in the fleet views.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, StringConstraints

from protocol.envelope import WireModel

AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
SiteName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
# "gw-01" (the gateway and everything on it) or "gw-01/cam-gate" (one camera or sensor).
DeviceRef = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}(/[a-z0-9][a-z0-9_-]{0,62})?$")
]
TypePattern = Annotated[str, StringConstraints(pattern=r"^[a-z*][a-z0-9_.*]{0,63}$")]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class Agency(WireModel):
    name: str = Field(min_length=1, max_length=128, description="Shown to operators.")
    sites: list[SiteName] = Field(default_factory=list, description="Sites this agency owns.")
    devices: list[DeviceRef] = Field(
        default_factory=list, description="Single gateways or 'gateway/item' it owns elsewhere."
    )
    alert_types: list[TypePattern] = Field(
        default_factory=list,
        description="Alert types it owns wherever they happen, e.g. 'flood.*' (shell patterns).",
    )
    channels: list[ChannelName] = Field(
        default_factory=list,
        description="Notification channels (notifications.channels) for this agency's alerts.",
    )


@dataclass(frozen=True)
class Viewer:
    """What a user may see: their agencies, or everything for the command center's staff."""

    agencies: frozenset[str]
    all_agencies: bool = False

    def sees(self, owners: Iterable[str]) -> bool:
        return self.all_agencies or not self.agencies.isdisjoint(owners)


STAFF = Viewer(frozenset(), all_agencies=True)


class Directory:
    def __init__(self, agencies: dict[str, Agency]) -> None:
        self.agencies = agencies

    def owners(self, *, gateway_id: str, item: str | None, site: str, alert_type: str) -> set[str]:
        """The agencies that own one alert (rule in the module docstring)."""
        by_type = {
            aid
            for aid, a in self.agencies.items()
            if any(fnmatch.fnmatchcase(alert_type, p) for p in a.alert_types)
        }
        return by_type or self.device_owners(gateway_id=gateway_id, item=item, site=site)

    def device_owners(self, *, gateway_id: str, item: str | None, site: str) -> set[str]:
        """The agencies that own a gateway (``item`` None) or one camera or sensor on it."""
        refs = {gateway_id} if item is None else {gateway_id, f"{gateway_id}/{item}"}
        by_device = {aid for aid, a in self.agencies.items() if refs.intersection(a.devices)}
        if by_device:
            return by_device
        return {aid for aid, a in self.agencies.items() if site and site in a.sites}

    def channels_of(self, agencies: Iterable[str]) -> list[str]:
        out: list[str] = []
        for aid in sorted(agencies):
            agency = self.agencies.get(aid)
            for ch in agency.channels if agency is not None else []:
                if ch not in out:
                    out.append(ch)
        return out


def encode_owners(owners: Iterable[str]) -> str:
    """The ``agencies`` column: ",a,b," so one agency matches with a LIKE '%,a,%'."""
    ids = sorted(set(owners))
    return f",{','.join(ids)}," if ids else ","


def decode_owners(text: str) -> set[str]:
    return {a for a in text.split(",") if a}
