"""Gateway health: host resources, the agent's own footprint and the link's state."""
