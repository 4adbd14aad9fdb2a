"""The gateway's link to the broker: MQTT session and the disk outbox behind it."""
