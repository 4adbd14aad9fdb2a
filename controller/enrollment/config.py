"""The controller's ``enrollment:`` section: where the signing CA is, what the broker reads, and
what new gateways are told. Off unless the section is present."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from protocol.envelope import WireModel


class EnrollmentSection(WireModel):
    """Enrollment of gateways with single-use tokens, renewal and revocation
    (docs/enrollment.md). The controller needs the intermediate's key and write access to the
    broker's CRL."""

    ca_dir: Path | None = Field(
        default=None,
        description="A folder made by `kendali ca init`: ca.crt, ca.key, chain.pem, fleet.crl "
        "and issued.json are taken from it (the fields below override single files).",
    )
    ca_cert: Path | None = Field(default=None, description="The intermediate's certificate.")
    ca_key: Path | None = Field(
        default=None, description="The intermediate's private key (owner-only)."
    )
    chain: Path | None = Field(
        default=None, description="Root + intermediate (PEM): handed to every new gateway."
    )
    crl_file: Path | None = Field(
        default=None, description="The CRL the broker reads (its crlfile); rewritten atomically."
    )
    crl_reload_command: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Run after a good CRL is written (the broker re-reads its CRL only on "
        "SIGHUP). Leave empty where kendali-crl-reload.path reloads the broker (hosts installed "
        'with deploy/install.sh); elsewhere e.g. ["kill", "-HUP", "PID"] for a broker of the '
        "controller's user. Empty and no path unit: reload it yourself.",
    )
    crl_days: float = Field(default=30.0, ge=1, le=365, description="Validity of each CRL.")
    crl_resign_before_days: float = Field(
        default=10.0,
        gt=0,
        le=364,
        description="Re-sign the CRL when less than this is left (an expired CRL makes the "
        "broker refuse every client).",
    )
    crl_check_interval_s: float = Field(
        default=600.0, ge=1, le=86400, description="How often the CRL on disk is checked."
    )
    leaf_days: float = Field(
        default=90.0, ge=1, le=825, description="Lifetime of gateway certificates."
    )
    broker_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        max_length=253,
        description="Broker host gateways connect to; it must be a name on the broker's "
        "certificate (kendali ca init --broker-name), which they verify against it.",
    )
    broker_port: int = Field(default=8883, ge=1, le=65535, description="Its mutual-TLS port.")
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        max_length=2048,
        description="The controller's address as gateways reach it (for renew_url); default: "
        "the address the enrollment request came to.",
    )
    token_ttl_s: float = Field(
        default=24 * 3600.0, ge=60, le=30 * 86400, description="Default token lifetime."
    )
    max_failures: int = Field(
        default=10, ge=1, le=10_000, description="Failed enrollments per address per window."
    )
    failure_window_s: float = Field(default=600.0, ge=1, le=86400, description="Their window.")
    release_trust_file: Path | None = Field(
        default=None,
        description="The fleet's release trust file (usually the same file as "
        "releases.trust_file) handed to each gateway in its enrollment answer, so `kendali "
        "provision enroll` pins the release keys; none: place it on gateways yourself.",
    )

    @model_validator(mode="after")
    def _ca_complete(self) -> EnrollmentSection:
        if self.ca_dir is None:
            missing = [
                name
                for name in ("ca_cert", "ca_key", "chain", "crl_file")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"set ca_dir, or all of: {', '.join(missing)}")
        if self.crl_resign_before_days >= self.crl_days:
            raise ValueError("crl_resign_before_days: must be less than crl_days")
        return self

    def _path(self, given: Path | None, name: str) -> Path:
        if given is not None:
            return given
        assert self.ca_dir is not None  # the validator made sure
        return self.ca_dir / name

    @property
    def ca_cert_path(self) -> Path:
        return self._path(self.ca_cert, "ca.crt")

    @property
    def ca_key_path(self) -> Path:
        return self._path(self.ca_key, "ca.key")

    @property
    def chain_path(self) -> Path:
        return self._path(self.chain, "chain.pem")

    @property
    def crl_path(self) -> Path:
        return self._path(self.crl_file, "fleet.crl")

    @property
    def issued_index(self) -> Path | None:
        """The CA folder's own register (``kendali ca issue|revoke``), merged into the CRL."""
        return None if self.ca_dir is None else self.ca_dir / "issued.json"
