"""Alerts: edge events and controller rules become one alert per (device, type) that operators
acknowledge and clear."""
