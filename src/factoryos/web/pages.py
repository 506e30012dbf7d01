"""Pages and static files. They hold no data: every datum comes from /api with a key."""

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from factoryos import __version__

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
router = APIRouter(include_in_schema=False)

# ECharts writes inline styles into its tooltips; scripts come only from this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'"
)


def _page(request: Request, template: str) -> HTMLResponse:
    context = {"version": __version__, "current": request.url.path}
    response = templates.TemplateResponse(request, template, context)
    response.headers["Content-Security-Policy"] = CSP
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The tag browser: asset tree and live trend."""
    return _page(request, "index.html")


@router.get("/oee", response_class=HTMLResponse)
def oee_board(request: Request) -> HTMLResponse:
    """The OEE board (docs/oee.md)."""
    return _page(request, "oee.html")


@router.get("/alarms", response_class=HTMLResponse)
def alarms(request: Request) -> HTMLResponse:
    """The alarm console (docs/alarms.md)."""
    return _page(request, "alarms.html")


@router.get("/maintenance", response_class=HTMLResponse)
def maintenance(request: Request) -> HTMLResponse:
    """Equipment health, the model registry and work orders (docs/maintenance.md)."""
    return _page(request, "maintenance.html")


@router.get("/scheduling", response_class=HTMLResponse)
def scheduling(request: Request) -> HTMLResponse:
    """Production scheduling: solve, the Gantt chart, pin by dragging, reschedule."""
    return _page(request, "scheduling.html")


@router.get("/trace", response_class=HTMLResponse)
def trace(request: Request) -> HTMLResponse:
    """Traceability: genealogy of an identifier as a graph, and the EPCIS events."""
    return _page(request, "trace.html")


@router.get("/spc", response_class=HTMLResponse)
def spc(request: Request) -> HTMLResponse:
    """Statistical process control: control charts, capability, SPC alarms (docs/spc.md)."""
    return _page(request, "spc.html")


@router.get("/energy", response_class=HTMLResponse)
def energy(request: Request) -> HTMLResponse:
    """Energy per place, load profile, compressed air and carbon reports (docs/energy.md)."""
    return _page(request, "energy.html")


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """Swagger UI for /openapi.json, from vendored files so it works without the internet."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="FactoryOS API",
        swagger_js_url=f"/static/vendor/swagger-ui/swagger-ui-bundle.js?v={__version__}",
        swagger_css_url=f"/static/vendor/swagger-ui/swagger-ui.css?v={__version__}",
        swagger_favicon_url="data:,",
    )


def mount_web(app: FastAPI) -> None:
    """Serve the UI at ``/``, the API docs at ``/docs`` and their assets under ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
