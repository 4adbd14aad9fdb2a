"""The REST API and the live console's server side (FastAPI)."""
