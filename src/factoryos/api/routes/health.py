"""Liveness and identity."""

from fastapi import APIRouter

from factoryos import __version__
from factoryos.api.deps import CurrentPrincipal
from factoryos.api.schemas import Health, Me

router = APIRouter(prefix="/api", tags=["system"])


@router.get("/health", summary="Liveness (no credential needed)")
def health() -> Health:
    return Health(version=__version__)


@router.get("/me", summary="Who the credential belongs to")
def me(principal: CurrentPrincipal) -> Me:
    return Me.of(principal)
