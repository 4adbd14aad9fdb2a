"""Which gateways, cameras and sensors a caller may see (issue: agencies share the center).

The rule is the directory's (``controller/access/directory.py``): an item belongs to the
agencies that name it or its gateway, else to those owning the gateway's site. A gateway is
listed when the caller sees it or at least one item on it; only the visible items are shown.
Anything else answers 404, exactly like something that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from controller.access.directory import Directory, Viewer
from controller.store.schema import gateway_sites


def site_map(conn: Connection, gateway_id: str | None = None) -> dict[str, str]:
    """Gateway id -> site ("" when unassigned gateways are looked up with ``.get(gid, "")``)."""
    query = select(gateway_sites.c.gateway_id, gateway_sites.c.site)
    if gateway_id is not None:
        query = query.where(gateway_sites.c.gateway_id == gateway_id)
    return {str(gid): str(site) for gid, site in conn.execute(query).all()}


@dataclass(frozen=True)
class Visibility:
    directory: Directory
    viewer: Viewer

    def device(self, gateway_id: str, item: str | None, site: str) -> bool:
        if self.viewer.all_agencies:
            return True
        owners = self.directory.device_owners(gateway_id=gateway_id, item=item, site=site)
        return self.viewer.sees(owners)

    def site(self, name: str) -> bool:
        """A site the caller's agencies own (the command center's staff see every site)."""
        if self.viewer.all_agencies:
            return True
        owners = {aid for aid, a in self.directory.agencies.items() if name in a.sites}
        return self.viewer.sees(owners)

    def gateway(self, gateway_id: str, site: str, items: list[str]) -> bool:
        """The gateway itself, or any of ``items`` on it."""
        return self.device(gateway_id, None, site) or any(
            self.device(gateway_id, i, site) for i in items
        )
