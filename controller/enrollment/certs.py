"""The register of certificates the controller signed for gateways (``gateway_certs``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from controller.store.schema import gateway_certs


def serial_hex(serial: int) -> str:
    return format(serial, "x")


class CertRegister:
    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.clock = clock

    def add(
        self,
        conn: Connection,
        *,
        serial: int,
        gateway_id: str,
        kind: str,
        not_after: float,
        token_id: str | None = None,
        site: str | None = None,
    ) -> None:
        now = self.clock()
        if kind == "renew":  # the older ones stay valid until they expire (see docs)
            conn.execute(
                update(gateway_certs)
                .where(
                    gateway_certs.c.gateway_id == gateway_id,
                    gateway_certs.c.superseded_at.is_(None),
                )
                .values(superseded_at=now)
            )
        conn.execute(
            gateway_certs.insert().values(
                serial=serial_hex(serial),
                gateway_id=gateway_id,
                kind=kind,
                token_id=token_id,
                site=site,
                issued_at=now,
                not_after=not_after,
            )
        )

    def get(self, serial: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(gateway_certs).where(gateway_certs.c.serial == serial_hex(serial))
            ).first()
        return None if row is None else dict(row._mapping)

    def for_gateway(self, gateway_id: str) -> list[dict[str, Any]]:
        query = (
            select(gateway_certs)
            .where(gateway_certs.c.gateway_id == gateway_id)
            .order_by(gateway_certs.c.issued_at.desc())
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def valid_for(self, gateway_id: str) -> list[dict[str, Any]]:
        """Certificates of the gateway neither revoked nor expired: it is enrolled."""
        now = self.clock()
        return [
            r
            for r in self.for_gateway(gateway_id)
            if r["revoked_at"] is None and r["not_after"] > now
        ]

    def holds_valid(self, conn: Connection, gateway_id: str) -> bool:
        """Inside the enrolling transaction: a valid certificate for the id exists already."""
        c = gateway_certs.c
        query = select(c.serial).where(
            c.gateway_id == gateway_id, c.revoked_at.is_(None), c.not_after > self.clock()
        )
        return conn.execute(query.limit(1)).first() is not None

    def site_of(self, gateway_id: str) -> str | None:
        return next((r["site"] for r in self.for_gateway(gateway_id) if r["site"]), None)

    def revoke(self, conn: Connection, gateway_id: str, *, who: str, reason: str) -> list[str]:
        """Every not yet revoked certificate of the gateway; returns their serials."""
        c = gateway_certs.c
        serials = [
            r.serial
            for r in conn.execute(
                select(c.serial).where(c.gateway_id == gateway_id, c.revoked_at.is_(None))
            )
        ]
        if serials:
            conn.execute(
                update(gateway_certs)
                .where(c.serial.in_(serials))
                .values(revoked_at=self.clock(), revoked_by=who[:128], revoke_reason=reason[:200])
            )
        return serials

    def revoked(self) -> list[tuple[str, float]]:
        """(serial, revoked_at) of revoked certificates that have not yet expired: an expired
        certificate is refused anyway, so the CRL does not grow forever."""
        c = gateway_certs.c
        query = select(c.serial, c.revoked_at).where(
            c.revoked_at.is_not(None), c.not_after > self.clock()
        )
        with self.engine.connect() as conn:
            return [(r.serial, r.revoked_at) for r in conn.execute(query)]
