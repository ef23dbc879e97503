"""``GET /healthz``: the process answers HTTP. No auth, no state, so probes never need a token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness only: sealed or not, the API is up (see /admin/seal-status for the store)."""
    return Health(status="ok")
