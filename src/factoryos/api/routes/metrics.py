"""``GET /metrics``: Prometheus text exposition of this process's registry.

It needs a credential like every route but health: a viewer key, which Prometheus sends as a
bearer token (``authorization: {credentials: <key>}`` in the scrape config). The registry is
``app.state.metrics``, set by whoever builds the app; without one the answer is empty.
"""

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

router = APIRouter(tags=["system"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (viewer key)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry | None = getattr(request.app.state, "metrics", None)
    body = generate_latest(registry) if registry is not None else b""
    return Response(body, media_type=CONTENT_TYPE_LATEST)
