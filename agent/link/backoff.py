"""Errors and the named reconnect policy of the broker link."""

from __future__ import annotations

from tenacity.wait import wait_base, wait_exponential_jitter

from agent.config import BrokerSection


class LinkError(ConnectionError):
    """The broker could not be reached or refused the connection; worth retrying."""


class LinkAuthError(LinkError):
    """The broker refused our credentials; retrying at once would only lock the account."""


def BROKER_WAIT(broker: BrokerSection) -> wait_base:
    """Exponential backoff with jitter so a city's gateways don't reconnect in lockstep after a
    broker restart."""
    return wait_exponential_jitter(
        multiplier=broker.backoff_initial_s,
        max=broker.backoff_max_s,
        jitter=broker.backoff_initial_s,
    )
