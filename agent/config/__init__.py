"""Agent configuration: the model and its loader."""

from agent.config.model import AgentConfig, BrokerSection, HealthSection, OutboxSection, TlsSection

__all__ = ["AgentConfig", "BrokerSection", "HealthSection", "OutboxSection", "TlsSection"]
