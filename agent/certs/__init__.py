"""The gateway's broker certificate: expiry in health, renewal before it runs out."""

from agent.certs.renewal import CertRenewal, renewal_due

__all__ = ["CertRenewal", "renewal_due"]
