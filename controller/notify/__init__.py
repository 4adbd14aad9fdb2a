"""Notifications: alerts routed to people's channels (apprise) and to other systems (MQTT)."""
