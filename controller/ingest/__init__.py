"""Ingest: transport (MQTT pump and acknowledgements), a pure pipeline (decode, de-duplicate,
apply) and the writer that commits a batch so no single message can stop the others."""

from controller.ingest.transport import Ingest

__all__ = ["Ingest"]
