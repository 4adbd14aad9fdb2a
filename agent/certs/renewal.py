"""Renewing the gateway's broker certificate without a technician.

Checked at start and then daily: when less than ``renew_fraction`` of the certificate's lifetime
is left, the worker makes a NEW key, signs the request with the CURRENT key (the controller's
proof that this is the gateway it enrolled), posts it to the renewal URL and writes the new key
and certificate in place atomically and owner-only, keeping the old pair as ``.prev``. The link
builds a fresh TLS client for every connection from these files, so the new certificate is used
from the next connection on; the open one stays up with the old, still valid certificate.

Network trouble and server errors are retried with backoff (:func:`renew_retry`); a refusal
(revoked, expired, not ours) is not, since asking again cannot change the answer: it is logged
and reported in health, and tried again at the next daily check.

A disk that refuses the new files (full, read-only, failing) must not leave a key beside a
certificate it does not match: the gateway could then neither connect nor prove itself for the
next renewal. So the four files (both ``.prev`` and the new pair) are written to temporary names
first and renamed into place only when all were written; a refused write leaves the old pair in
use, is reported in health and retried like a network failure (the controller signs again).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from tenacity import Retrying, before_sleep_log, retry_if_exception_type, wait_exponential_jitter

from agent.config.model import RenewalSection
from common import csr as csrlib
from common.enroll_client import Refused, Unreachable, post_json
from common.files import StagedFiles
from common.redact import redact
from common.tls import TlsSection
from protocol.enrollment import Issued, RenewRequest
from protocol.messages import CertificateHealth

log = logging.getLogger(__name__)

Post = Callable[..., dict[str, Any]]


class RenewalError(RuntimeError):
    """A renewal that failed; ``transient`` says whether retrying soon may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class TransientRenewalError(RenewalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


def renewal_due(
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    now: datetime.datetime,
    fraction: float,
) -> bool:
    """Less than ``fraction`` of the lifetime left (or expired already)."""
    lifetime = (not_after - not_before).total_seconds()
    left = (not_after - now).total_seconds()
    return left < fraction * max(lifetime, 1.0)


def renew_retry(
    section: RenewalSection, stop: threading.Event, sleep: Callable[[float], Any]
) -> Retrying:
    """The one retry policy of renewal: exponential with jitter up to ``retry_max_s``, only
    for transient failures, until the worker is stopped."""
    return Retrying(
        wait=wait_exponential_jitter(
            multiplier=section.retry_initial_s,
            max=section.retry_max_s,
            jitter=section.retry_initial_s,  # a fleet renewed together spreads its retries
        ),
        retry=retry_if_exception_type(TransientRenewalError),
        stop=lambda _state: stop.is_set(),
        sleep=sleep,
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )


@dataclass
class _State:
    renewed_at: float | None = None
    last_error: str = ""


class CertRenewal:
    def __init__(
        self,
        section: RenewalSection,
        tls: TlsSection,
        *,
        clock: Callable[[], float] = time.time,
        post: Post = post_json,
    ) -> None:
        if tls.cert_file is None or tls.key_file is None:
            raise ValueError("renewal needs broker.tls cert_file and key_file")
        self.section = section
        self.cert_file: Path = tls.cert_file
        self.key_file: Path = tls.key_file
        self.clock = clock
        self.post = post
        self.state = _State()
        self._lock = threading.Lock()  # one renewal at a time (worker and tests)

    # -- reading -------------------------------------------------------------------------

    def current(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)

    def due(self) -> bool:
        cert = self.current()
        return renewal_due(
            cert.not_valid_before_utc, cert.not_valid_after_utc, self._now(),
            self.section.renew_fraction,
        )  # fmt: skip

    def health(self) -> CertificateHealth | None:
        """For the health sample; None when the certificate cannot be read at all."""
        try:
            cert = self.current()
        except (OSError, ValueError):
            return None
        now = self._now()
        return CertificateHealth(
            not_after=cert.not_valid_after_utc.timestamp(),
            expired=now >= cert.not_valid_after_utc,
            renew_due=renewal_due(
                cert.not_valid_before_utc,
                cert.not_valid_after_utc,
                now,
                self.section.renew_fraction,
            ),
            renewed_at=self.state.renewed_at,
            last_error=self.state.last_error[:512],
        )

    # -- renewing ------------------------------------------------------------------------

    def renew_once(self) -> Issued:
        """One exchange with the controller; the files change only on success."""
        with self._lock:
            current = self.current()
            current_key = csrlib.load_key(self.key_file.read_bytes())
            gateway_id = csrlib.common_name(current)
            new_key = csrlib.new_key()
            csr = csrlib.csr_pem(new_key, gateway_id)
            body = RenewRequest(
                certificate=current.public_bytes(serialization.Encoding.PEM).decode(),
                csr=csr,
                signature=csrlib.sign_proof(current_key, csr),
            )
            try:
                reply = self.post(
                    self.section.renew_url,
                    body.model_dump(),
                    ca_file=self.section.ca_file,
                    timeout_s=self.section.timeout_s,
                )
            except Unreachable as exc:
                raise TransientRenewalError(str(exc)) from exc
            except Refused as exc:
                if exc.transient:
                    raise TransientRenewalError(str(exc)) from exc
                raise RenewalError(f"the controller refused the renewal: {exc}",
                                   transient=False) from exc  # fmt: skip
            issued = Issued.model_validate(reply)
            self._check(issued, new_key, gateway_id)
            self._install(issued, new_key)
            self.state = _State(renewed_at=self.clock())
            log.info(
                "certificate of %s renewed with a new key; valid until %s",
                gateway_id,
                datetime.datetime.fromtimestamp(issued.not_after, datetime.UTC).isoformat(),
            )
            return issued

    @staticmethod
    def _check(issued: Issued, key: Any, gateway_id: str) -> None:
        cert = x509.load_pem_x509_certificate(issued.certificate.encode())
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if (
            cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki)
            or csrlib.common_name(cert) != gateway_id
        ):
            raise RenewalError("the controller's certificate is not for our new key",
                               transient=False)  # fmt: skip

    def _install(self, issued: Issued, key: Any) -> None:
        """Old pair kept as .prev, then the key and the certificate: all four staged owner-only
        first, then renamed (a connect between the last two renames fails its TLS set-up and is
        retried by the link). A refused write changes nothing and is a transient failure."""
        old_cert, old_key = self.cert_file.read_bytes(), self.key_file.read_bytes()
        files = [
            (self.cert_file.with_name(self.cert_file.name + ".prev"), old_cert),
            (self.key_file.with_name(self.key_file.name + ".prev"), old_key),
            (self.key_file, csrlib.key_pem(key)),
            (self.cert_file, issued.certificate.encode()),
        ]
        staged = StagedFiles(tag="renew")
        try:
            for path, data in files:
                staged.add(path, data)
        except OSError as exc:
            staged.abort()
            why = (f"the renewed certificate cannot be stored in {self.key_file.parent}: "
                   f"{exc.strerror or exc}; the current one stays in use")  # fmt: skip
            self.state.last_error = why
            raise TransientRenewalError(why) from exc
        staged.commit()

    def check(self, stop: threading.Event, sleep: Callable[[float], Any]) -> bool:
        """Renew if due (retrying transient failures); True when a renewal happened."""
        if not self.due():
            return False
        try:
            renew_retry(self.section, stop, sleep)(self.renew_once)
        except RenewalError as exc:
            self.state.last_error = redact(str(exc))
            self._log_failure(exc)
            return False
        return True

    def _log_failure(self, exc: RenewalError) -> None:
        health = self.health()
        expired = health is not None and health.expired
        log.error(
            "certificate renewal failed%s: %s",
            " and the certificate HAS EXPIRED (the broker will refuse this gateway)"
            if expired else "",
            redact(str(exc)),
        )  # fmt: skip

    def run(self, stop: threading.Event) -> None:
        """The supervised worker: check at start, then every ``check_interval_s``."""
        while not stop.is_set():
            try:
                self.check(stop, stop.wait)
            except (OSError, ValueError) as exc:  # the files themselves are unreadable
                self.state.last_error = f"{type(exc).__name__}: {exc}"[:512]
                log.error("certificate check failed: %s", self.state.last_error)
            stop.wait(self.section.check_interval_s)
