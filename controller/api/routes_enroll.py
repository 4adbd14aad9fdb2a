"""Enrollment routes: single-use tokens (admin), a gateway's CSR in exchange for its certificate,
renewal and revocation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["enrollment"])
