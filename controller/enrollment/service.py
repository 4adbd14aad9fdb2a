"""Enrollment, renewal and revocation as the API and the admin CLI use them.

Pure checks live in :mod:`controller.enrollment.checks`; this class
reads the CA's files, signs, and writes the register and the audit trail in one transaction per
request. Refusals are counted per reason and logged without the token's value.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine

from common import csr as csrlib
from common import pki
from common.release import KeyFileError, TrustError, TrustStore
from controller.access import audit
from controller.access.ratelimit import FailureLimiter
from controller.enrollment import crl as crllib
from controller.enrollment.certs import CertRegister, serial_hex
from controller.enrollment.checks import (
    TOKEN_STATUS,
    Refused,
    check_csr,
    first_cert,
    gateway_id_for,
    spki,
)
from controller.enrollment.config import EnrollmentSection
from controller.enrollment.tokens import Token, TokenRefused, TokenStore
from controller.fleet.tags import write_tags
from protocol.enrollment import (
    RENEW_PATH,
    TRUST_MAX,
    BrokerInfo,
    EnrollRequest,
    Issued,
    RenewRequest,
)

log = logging.getLogger(__name__)
# After a failed CRL check (a full disk, an unreadable register) the next try comes sooner than
# the check interval: 10 s, doubling up to the interval. The old CRL stays in place meanwhile.
CRL_RETRY_INITIAL_S = 10.0


class CaUnavailable(crllib.CrlError):
    """The CA's certificate or key cannot be read (path, permissions, format)."""


class NotEnrolled(LookupError):
    """No certificate was ever signed here for that gateway."""


@dataclass(frozen=True)
class Revocation:
    gateway_id: str
    serials: list[str]
    crl_written: bool
    reloaded: bool
    problem: str = ""


class Enrollment:
    def __init__(
        self,
        settings: EnrollmentSection,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        on_enrolled: Callable[[str, str], object] | None = None,
    ) -> None:
        """``on_enrolled(gateway_id, site)`` runs after a site-bound enrollment commits (the
        controller puts the gateway in that site's configuration)."""
        self.on_enrolled = on_enrolled
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.tokens = TokenStore(engine, clock)
        self.certs = CertRegister(engine, clock)
        self.limiter = FailureLimiter(settings.max_failures, settings.failure_window_s)
        self.refusals: Counter[str] = Counter()
        self._crl_lock = threading.Lock()
        # Why the CRL on disk is not what it should be (empty when it is): shown as the crl
        # worker's error in the controller's status until a write succeeds.
        self.crl_problem = ""
        self.crl_failures = 0
        self._crl_wake = threading.Event()  # a revocation whose CRL failed: retry soon

    # -- the CA's files ----------------------------------------------------------------------

    def ca(self) -> pki.Issued:
        """Read at every use, so a renewed intermediate needs no restart."""
        s = self.settings
        try:
            key = csrlib.load_key(s.ca_key_path.read_bytes())
            cert = x509.load_pem_x509_certificate(s.ca_cert_path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise CaUnavailable(
                f"the signing CA ({s.ca_cert_path}, {s.ca_key_path}) cannot be read: "
                f"{type(exc).__name__}"
            ) from exc
        return pki.Issued(key, cert)

    def _signing_ca(self) -> pki.Issued:
        try:
            return self.ca()
        except CaUnavailable as exc:
            log.error("%s", exc)
            raise Refused(
                503, "ca_unavailable", "the controller cannot sign now; tell the administrator"
            ) from exc

    def chain_pem(self) -> str:
        return self.settings.chain_path.read_text()

    def broker(self) -> BrokerInfo:
        s = self.settings
        return BrokerInfo(host=s.broker_host, port=s.broker_port)

    def renew_url(self, base_url: str) -> str:
        base = self.settings.public_url or base_url
        return base.rstrip("/") + RENEW_PATH

    # -- refusals ----------------------------------------------------------------------------

    def check_rate(self, source: str) -> float | None:
        return self.limiter.retry_after([source])

    def refused(self, exc: Refused, *, what: str, source: str, token_id: str | None = None) -> None:
        """Count, log (never the token itself) and feed the per-address limiter."""
        self.refusals[exc.code] += 1
        self.limiter.failed([source])
        log.warning(
            "%s refused from %s: %s%s",
            what,
            source or "?",
            exc.code,
            f" (token {token_id})" if token_id else "",
        )

    # -- enrollment --------------------------------------------------------------------------

    def enroll(self, request: EnrollRequest, *, source: str, base_url: str) -> Issued:
        try:
            token = self.tokens.check(request.token)
        except TokenRefused as exc:
            refused = Refused(TOKEN_STATUS[exc.reason], f"token_{exc.reason}", exc.detail)
            self.refused(refused, what="enrollment", source=source, token_id=exc.token_id)
            raise refused from exc
        try:
            issued = self._enroll(token, request, source=source, base_url=base_url)
        except Refused as exc:
            self.refused(exc, what="enrollment", source=source, token_id=token.id)
            raise
        self.limiter.forget(source)
        trust = self.release_trust()
        return issued.model_copy(update={"release_trust": trust}) if trust else issued

    def release_trust(self) -> str | None:
        """The configured release trust file's text, checked as gateways will load it; one that
        cannot be read or is not a trust file is left out of the answer (enrollment itself
        still succeeds) and logged, since gateways then refuse every release until it is put
        on them."""
        path = self.settings.release_trust_file
        if path is None:
            return None
        try:
            TrustStore.load(path)
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, TrustError, KeyFileError) as exc:
            log.error("enrollment: release trust file %s not handed out: %s", path, exc)
            return None
        if len(text) > TRUST_MAX:
            log.error("enrollment: release trust file %s is over %d bytes", path, TRUST_MAX)
            return None
        return text

    def _enroll(
        self, token: Token, request: EnrollRequest, *, source: str, base_url: str
    ) -> Issued:
        csr = check_csr(request.csr)
        gateway_id = gateway_id_for(token, request.hostname)
        self._not_enrolled(gateway_id)
        ca = self._signing_ca()
        leaf = pki.sign_csr(ca, csr, gateway_id, days=self.settings.leaf_days)
        not_after = leaf.cert.not_valid_after_utc.timestamp()
        try:
            with self.engine.begin() as conn:
                self.tokens.claim(conn, token, gateway_id, source)
                if self.certs.holds_valid(conn, gateway_id):  # won by a concurrent enrollment
                    raise Refused(
                        409,
                        "gateway_enrolled",
                        f"gateway id {gateway_id} was enrolled a moment ago; enroll under "
                        "another --hostname",
                    )
                self.certs.add(
                    conn,
                    serial=leaf.cert.serial_number,
                    gateway_id=gateway_id,
                    kind="enroll",
                    not_after=not_after,
                    token_id=token.id,
                    site=token.site,
                )
                audit.record(
                    conn,
                    who=f"token:{token.id}",
                    action="enroll.gateway",
                    target=f"gateway:{gateway_id}",
                    detail={"serial": serial_hex(leaf.cert.serial_number), "site": token.site},
                    source=source,
                    at=self.clock(),
                )
                if token.tags:  # as a `fleet tag` by the token's creator, who chose them
                    write_tags(
                        conn,
                        gateway_id,
                        token.tags,
                        who=token.created_by,
                        source=source,
                        now=self.clock(),
                        detail={"via": f"enroll-token:{token.id}"},
                    )
        except TokenRefused as exc:  # used by a concurrent request: this certificate is dropped
            raise Refused(TOKEN_STATUS[exc.reason], f"token_{exc.reason}", exc.detail) from exc
        log.info("enrolled gateway %s (token %s, from %s)%s", gateway_id, token.id, source,
                 f" tagged {' '.join(token.tags)}" if token.tags else "")  # fmt: skip
        if token.site and self.on_enrolled is not None:
            try:
                self.on_enrolled(gateway_id, token.site)
            except Exception as exc:  # the certificate is issued; the site can be set by hand
                log.error("gateway %s not put in site %s: %s: %s", gateway_id, token.site,
                          type(exc).__name__, exc)  # fmt: skip
        return self._issued(gateway_id, leaf.cert, ca, token.site, base_url)

    def _not_enrolled(self, gateway_id: str) -> None:
        """An id is never handed to a second device while the first one's certificate is
        valid: the broker would let both connect as the same user, and they would evict each
        other. A revoked (or expired) id may be enrolled again: a replaced device."""
        valid = self.certs.valid_for(gateway_id)
        in_ca_dir = self._ca_dir_holds(gateway_id)
        if valid or in_ca_dir:
            raise Refused(
                409,
                "gateway_enrolled",
                f"gateway id {gateway_id} is already enrolled with a valid certificate; revoke "
                f"it first (kendali provision revoke {gateway_id}) or enroll under another "
                "--hostname",
            )

    def _ca_dir_holds(self, name: str) -> bool:
        index = self.settings.issued_index
        if index is None or not index.exists():
            return False
        try:
            entry = json.loads(index.read_text()).get(name)
        except (OSError, ValueError, AttributeError):
            return False
        return bool(entry) and not entry.get("revoked_at")

    def _issued(
        self,
        gateway_id: str,
        cert: x509.Certificate,
        ca: pki.Issued,
        site: str | None,
        base_url: str,
    ) -> Issued:
        pem = (
            cert.public_bytes(serialization.Encoding.PEM)
            + ca.cert.public_bytes(serialization.Encoding.PEM)
        ).decode()
        return Issued(
            gateway_id=gateway_id,
            certificate=pem,
            chain=self.chain_pem(),
            not_after=cert.not_valid_after_utc.timestamp(),
            broker=self.broker(),
            site=site,
            renew_url=self.renew_url(base_url),
        )

    # -- renewal -----------------------------------------------------------------------------

    def renew(self, request: RenewRequest, *, source: str, base_url: str) -> Issued:
        try:
            issued = self._renew(request, source=source, base_url=base_url)
        except Refused as exc:
            self.refused(exc, what="renewal", source=source)
            raise
        self.limiter.forget(source)
        return issued

    def _renew(self, request: RenewRequest, *, source: str, base_url: str) -> Issued:
        current = first_cert(request.certificate)
        ca = self._signing_ca()
        try:
            current.verify_directly_issued_by(ca.cert)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise Refused(
                401, "not_our_certificate", "certificate: not issued by this fleet's CA"
            ) from exc
        try:  # before anything about the certificate's state is told
            csrlib.verify_proof(current, request.csr, request.signature)
        except csrlib.ProofError as exc:
            raise Refused(401, "bad_proof", str(exc)) from exc
        gateway_id = csrlib.common_name(current)
        now = self.clock()
        if current.not_valid_after_utc.timestamp() <= now:
            raise Refused(
                401,
                "certificate_expired",
                f"the certificate of {gateway_id} has expired; enroll again with a new token",
            )
        row = self.certs.get(current.serial_number)
        if row is None:
            raise Refused(
                401,
                "unknown_certificate",
                "certificate: unknown to this controller's enrollment",
            )
        if row["revoked_at"] is not None or self._revoked_in_ca_dir(current.serial_number):
            raise Refused(403, "revoked", f"the certificate of {gateway_id} is revoked")
        csr = check_csr(request.csr)
        if csrlib.common_name(csr) != gateway_id:
            raise Refused(422, "bad_csr", f"csr: its CN must be {gateway_id}")
        if spki(csr.public_key()) == spki(current.public_key()):
            raise Refused(422, "same_key", "csr: a renewal needs a new key")
        leaf = pki.sign_csr(ca, csr, gateway_id, days=self.settings.leaf_days)
        with self.engine.begin() as conn:
            self.certs.add(
                conn,
                serial=leaf.cert.serial_number,
                gateway_id=gateway_id,
                kind="renew",
                not_after=leaf.cert.not_valid_after_utc.timestamp(),
                site=row["site"],
            )
            audit.record(
                conn,
                who=f"gateway:{gateway_id}",
                action="enroll.renew",
                target=f"gateway:{gateway_id}",
                detail={
                    "serial": serial_hex(leaf.cert.serial_number),
                    "previous": serial_hex(current.serial_number),
                },
                source=source,
                at=now,
            )
        log.info("renewed the certificate of %s (from %s)", gateway_id, source)
        return self._issued(gateway_id, leaf.cert, ca, row["site"], base_url)

    def _revoked_in_ca_dir(self, serial: int) -> bool:
        return any(r.serial == serial for r in crllib.from_ca_index(self.settings.issued_index))

    # -- revocation and the CRL --------------------------------------------------------------

    def revoke(
        self, gateway_id: str, *, who: str, reason: str = "", source: str = ""
    ) -> Revocation:
        """Mark every certificate of the gateway revoked (audited, one transaction), then write
        the CRL and reload the broker. A CRL failure leaves the revocation recorded: the
        housekeeping job finds the serial missing from the CRL and writes it again."""
        if not self.certs.for_gateway(gateway_id):
            raise NotEnrolled(f"no certificate was signed here for gateway {gateway_id}")
        with self.engine.begin() as conn:
            serials = self.certs.revoke(conn, gateway_id, who=who, reason=reason)
            audit.record(
                conn,
                who=who,
                action="enroll.revoke",
                target=f"gateway:{gateway_id}",
                detail={"serials": serials, "reason": reason},
                source=source,
                at=self.clock(),
            )
        log.warning("revoked gateway %s (%d certificate(s)) by %s", gateway_id, len(serials), who)
        try:
            reloaded = self.write_crl()
        except crllib.CrlError as exc:
            log.error("revocation of %s recorded, CRL not written: %s", gateway_id, exc)
            self._crl_failed(exc)
            return Revocation(gateway_id, serials, crl_written=False, reloaded=False,
                              problem=str(exc))  # fmt: skip
        return Revocation(gateway_id, serials, crl_written=True, reloaded=reloaded)

    def revoked(self) -> list[crllib.Revoked]:
        return crllib.from_rows(self.certs.revoked()) + crllib.from_ca_index(
            self.settings.issued_index
        )

    def write_crl(self) -> bool:
        """A fresh CRL in place, then the reload command; True when the broker was told."""
        with self._crl_lock:
            crllib.write(self.settings.crl_path, self.ca(), self.revoked(),
                         days=self.settings.crl_days)  # fmt: skip
            self.crl_problem = ""
            return crllib.reload_broker(self.settings.crl_reload_command)

    def _crl_failed(self, exc: Exception) -> None:
        self.crl_failures += 1
        self.crl_problem = f"{type(exc).__name__}: {exc}"[:400]
        self._crl_wake.set()

    def _crl_sleep(self, stop: threading.Event, seconds: float) -> None:
        """Until ``stop``, ``seconds`` or a failed revocation's CRL (whichever comes first)."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not self._crl_wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            stop.wait(min(left, 1.0))

    def refresh_crl(self) -> str | None:
        """The housekeeping step: rewrite (and reload) when the CRL on disk is unreadable, not
        ours, close to expiry, or missing a revocation. Returns why it rewrote, or None."""
        why = crllib.needs_rewrite(
            self.settings.crl_path,
            self.ca(),
            self.revoked(),
            resign_before=datetime.timedelta(days=self.settings.crl_resign_before_days),
            now=datetime.datetime.fromtimestamp(self.clock(), datetime.UTC),
        )
        if why is not None:
            log.info("CRL %s: %s; writing it again", self.settings.crl_path, why)
            self.write_crl()
        return why

    def run_housekeeping(self, stop: threading.Event) -> None:
        """The controller's supervised worker: check at start, then every interval. A failed
        check (a full disk, say) leaves the old CRL in place, is shown in ``crl_problem`` and
        tried again sooner: :data:`CRL_RETRY_INITIAL_S`, doubling up to the interval."""
        retry = CRL_RETRY_INITIAL_S
        while not stop.is_set():
            self._crl_wake.clear()
            try:
                self.refresh_crl()
            except (crllib.CrlError, OSError, ValueError) as exc:
                self._crl_failed(exc)
                wait = min(retry, self.settings.crl_check_interval_s)
                retry = min(retry * 2, self.settings.crl_check_interval_s)
                log.error("CRL housekeeping failed (the old CRL stays; again in %.0f s): %s",
                          wait, self.crl_problem)  # fmt: skip
                self._crl_wake.clear()
                stop.wait(wait)
                continue
            self.crl_problem, retry = "", CRL_RETRY_INITIAL_S
            self._crl_sleep(stop, self.settings.crl_check_interval_s)
