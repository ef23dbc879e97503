"""``GET /healthz``: the process answers HTTP. No auth, no state, so probes never need a token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness only: sealed or not, the API is up (see /admin/seal-status for the store).

    On the event loop: probes ask often, and a plain ``def`` route costs a hop to a worker
    thread, about three times the CPU of the rest of the request.
    """
    return Health(status="ok")
