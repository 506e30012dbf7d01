"""API errors and the one place that maps FactoryOS errors to HTTP statuses."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from factoryos.apps.alarms.errors import AlarmsUnavailableError
from factoryos.apps.energy.errors import (
    AllocationError,
    EnergyError,
    EnergyQueryError,
    FactorError,
    InventoryError,
    UnitError,
)
from factoryos.apps.maintenance.errors import MaintenanceError
from factoryos.apps.maintenance.service import UnknownEquipmentError
from factoryos.apps.oee.errors import CounterError, OeeError
from factoryos.apps.oee.errors import InvalidInputError as OeeInputError
from factoryos.apps.scheduling.errors import SchedulingError
from factoryos.apps.scheduling.service import (
    JobLimitError,
    JobNotFoundError,
    JobStateError,
    RequestError,
)
from factoryos.apps.trace.errors import GenealogyError
from factoryos.bus.errors import BusClosedError
from factoryos.errors import FactoryOSError
from factoryos.model.errors import ModelError
from factoryos.store.carbon_reports import CarbonReportConflictError, CarbonReportNotFoundError
from factoryos.store.catalog import CatalogInputError, UnknownTagError
from factoryos.store.errors import QueryError

log = logging.getLogger(__name__)


class ApiError(FactoryOSError):
    """Root of the API package's errors."""


class BadParameterError(ApiError):
    """A request parameter that cannot be used; the message starts with its name."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"{param}: {message}")


# Most specific first: the first class the error is an instance of decides the status.
_STATUS: tuple[tuple[type[FactoryOSError], int], ...] = (
    # OEE: a bad range is the client's; counters or cycle times that cannot be right are
    # the plant data's (409: the request was fine, the data cannot answer it).
    (AlarmsUnavailableError, 503),
    # Maintenance: an equipment nobody watches is not found; data that cannot train a model
    # (too few rows, constant signals) is the plant data's, as with OEE.
    (UnknownEquipmentError, 404),
    (MaintenanceError, 409),
    (CounterError, 409),
    (OeeInputError, 400),
    (OeeError, 409),
    # Scheduling: another tenant's job is as unknown as a missing one; a job without a
    # schedule yet cannot be pinned or exported; a tenant with every job still running waits.
    (JobNotFoundError, 404),
    (JobStateError, 409),
    (JobLimitError, 429),
    (RequestError, 422),
    (SchedulingError, 400),
    (UnknownTagError, 404),
    (BadParameterError, 400),
    (QueryError, 400),
    (CatalogInputError, 400),
    (GenealogyError, 400),  # a trace asked beyond its bounds, or of an identifier not storable
    (ModelError, 400),
    (BusClosedError, 503),
    # Energy: a question it cannot answer is the client's; readings that cannot be right
    # (a counter running backwards) are the plant data's.
    # Carbon: activity data, instruments and factor ids in a request are the client's.
    (EnergyQueryError, 400),
    (InventoryError, 400),
    (FactorError, 400),
    (UnitError, 400),
    (AllocationError, 400),
    (EnergyError, 409),
    (CarbonReportNotFoundError, 404),
    (CarbonReportConflictError, 409),
)


def status_for(exc: FactoryOSError) -> int:
    return next((status for cls, status in _STATUS if isinstance(exc, cls)), 500)


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FactoryOSError)
    status = status_for(exc)
    if status == 500:  # unexpected: its text may hold internals
        log.error("request failed: %s", exc, exc_info=exc)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=status)
    # 503 is a known, passing condition (starting, stopping): say which, and to retry
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    """422 with where and what, without echoing the input: a client's NaN or bytes would
    make the answer itself unencodable (a 500 for the client's mistake)."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(FactoryOSError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid)
